"""Writes papermill's parameters in Ember's cell language.

papermill puts the values given with -p, -r, -y or -f into a new cell, tagged
"injected-parameters", after the cell tagged "parameters", in the language of
the notebook, which it looks up by kernel name, then by language: "ember" is
both. Ember's cells (docs/LANGUAGE.md) know none, true/false, 64-bit ints,
doubles, strings with Python's escapes and lists; they have no dicts, so a
dict parameter is refused with a message rather than turned into a value the
notebook does not expect.

How papermill finds it: its translators live in a registry that only its own
module fills, and it loads no entry points for them. It does load the
"papermill.engine" entry points while it is being imported, so this package
declares one (EmberEngine below) and registers the translator as that module
is loaded. A plain `papermill in.ipynb out.ipynb -k ember -p epochs 1` then
needs no --language or other flag. (The other hooks are worse: a
"papermill.io" entry point would have to claim a made-up URL scheme, and a
sitecustomize or .pth file would run in every Python program.)
"""
import math

from papermill.engines import NBClientEngine
from papermill.exceptions import PapermillException
from papermill.translators import PythonTranslator, Translator, papermill_translators

INT64 = range(-2**63, 2**63)


class EmberTranslator(Translator):
    @classmethod
    def translate_none(cls, val):
        return "none"

    @classmethod
    def translate_bool(cls, val):
        return "true" if val else "false"

    @classmethod
    def translate_int(cls, val):
        if val not in INT64:
            raise ValueError(f"{val} does not fit in Ember's 64-bit ints (pass a float or a string)")
        # -2**63 has no literal of its own: 2**63 overflows before the minus applies.
        return str(val) if val != -2**63 else "-9223372036854775807 - 1"

    @classmethod
    def translate_float(cls, val):
        if math.isfinite(val):
            # The shortest round-trip form (0.1, 1e-05, 1e+100, -0.0) reads back exactly.
            return repr(val)
        return f"float('{val}')"  # inf, -inf, nan

    @classmethod
    def translate_str(cls, val):
        # repr keeps printable Unicode as it is and writes only escapes Ember's
        # lexer reads too (\\ \' \n \r \t \xNN \uNNNN \UNNNNNNNN); a lone
        # surrogate would become a \ud8xx escape Ember rejects, so say why here.
        try:
            val.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{val!r} is not valid Unicode (a lone surrogate, e.g. from a "
                             "command-line argument that is not UTF-8)") from None
        return repr(val)

    @classmethod
    def translate_escaped_str(cls, val):
        # papermill's fallback for any other type (a date from a YAML file...): its text.
        return cls.translate_str(str(val))

    @classmethod
    def translate_list(cls, val):
        return "[" + ", ".join(cls.translate(v) for v in val) + "]"

    @classmethod
    def translate_dict(cls, val):
        raise ValueError("Ember has no dict values; pass each entry as a parameter of its "
                         "own, or a list of [key, value] pairs")

    @classmethod
    def comment(cls, cmt_str):
        return f"# {cmt_str}".strip()

    @classmethod
    def codify(cls, parameters, comment="Parameters"):
        """papermill's layout (the comment, then `name = value` lines), with the
        parameter's name in the message when a value cannot be written."""
        lines = [cls.comment(comment)]
        for name, val in parameters.items():
            try:
                lines.append(cls.assign(name, cls.translate(val)))
            except ValueError as e:
                raise PapermillException(f"parameter '{name}': {e}") from None
        return "\n".join(lines) + "\n"

    # An Ember parameters cell has Python's shape (`name = value  # help`), so
    # papermill's reader of Python parameter cells serves for --help-notebook
    # and for its warning about parameters the notebook does not have.
    PARAMETER_PATTERN = PythonTranslator.PARAMETER_PATTERN
    inspect = classmethod(PythonTranslator.inspect.__func__)


papermill_translators.register("ember", EmberTranslator)


class EmberEngine(NBClientEngine):
    """papermill's nbclient engine, unchanged: the object of this package's
    "papermill.engine" entry point, which exists so that papermill imports
    this module (`--engine ember` is the same as the default engine)."""
