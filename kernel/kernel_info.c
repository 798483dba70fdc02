/* kernel_info.c — what Ember tells a front end about itself. The engine's
 * version and banner are read once at start-up (static strings), so both
 * threads may build this without calling into the engine. */
#include "kernel_info.h"

#include "message.h"

json_t *ember_kernel_info(const ember_kernel *k)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:b, s:[],"
        " s:{s:s, s:s, s:s, s:s, s:s, s:s},"
        " s:[{s:s, s:s}]}",
        "status", "ok", "protocol_version", EMBER_PROTOCOL_VERSION, "implementation", "ember",
        "implementation_version", k->version, "banner", k->banner, "debugger", 0,
        "supported_features",
        "language_info", "name", "ember", "version", k->version, "mimetype", "text/x-ember",
        "file_extension", ".ember", "codemirror_mode", "python", "pygments_lexer", "python",
        "help_links", "text", "Jupyter messaging protocol", "url",
        "https://jupyter-client.readthedocs.io/en/latest/messaging.html");
}
