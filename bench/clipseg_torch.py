#!/usr/bin/env python3
"""clipseg_torch.py — the PyTorch side of bench/clipseg_cpu.sh: transformers'
CLIPSegForImageSegmentation on the same checkpoint, image and prompts as
ember_clipseg_bench, on the same number of threads. Times from_pretrained,
then per forward the processor (CIDAS/clipseg-rd64-refined's: 352x352
bilinear resize, ImageNet mean/std, the CLIP tokenizer with padding) and the
model under torch.inference_mode; median of N after one warm-up (and the
same for the first prompt alone); the peak RSS of this process. With --ember DIR (ember_clipseg_bench --dump DIR) it
also runs the model on Ember's exact pixels and token ids and prints how far
the logits and the probabilities (sigmoid of the logits) are apart, how far
the probabilities are apart when each side prepares its own inputs, and how
far the two pre-processings are apart.

--device cuda (bench/gpu_proof.sh, q2 on the card) runs the model in fp32 on
the GPU with TF32 off for matrix products and cuDNN convolutions (Ember's
CUDA backend computes in fp32 without TF32), and each timed forward copies
its logits to the host, as Ember's does, so the times include the device's
work.

Prints "RESULT key value" lines, like the C side."""
import argparse
import os
import resource
import shutil
import statistics
import time

import numpy as np
import torch
from PIL import Image
from transformers import (CLIPSegForImageSegmentation, CLIPSegProcessor, CLIPTokenizer,
                          ViTImageProcessor)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="safetensors from gen_clipseg_fixtures.py --full")
    ap.add_argument("--config", required=True, help="its _config.json")
    ap.add_argument("--tokenizer", required=True, help="folder with vocab.json, merges.txt")
    ap.add_argument("--image", help="the photo (else a synthetic 451x300 image, as the C side)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ember", help="ember_clipseg_bench's --dump folder, for the parity line")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("prompts", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    # from_pretrained wants a folder holding config.json and model.safetensors:
    # links to the generated files (the extra input./expect. tensors in the
    # file are ignored as unexpected keys).
    folder = os.path.join(os.path.dirname(os.path.abspath(args.model)), "hf")
    os.makedirs(folder, exist_ok=True)
    for src, name in ((args.model, "model.safetensors"), (args.config, "config.json")):
        dst = os.path.join(folder, name)
        if not os.path.exists(dst):
            os.symlink(os.path.abspath(src), dst)

    if args.image and os.path.exists(args.image):
        image = Image.open(args.image).convert("RGB")
        image.load()
        image_kind = args.image
    else:
        x, y = np.meshgrid(np.arange(451), np.arange(300))
        arr = np.stack([(x * 255) // 451, (y * 255) // 300, ((x + y) * 7) & 255], -1)
        image = Image.fromarray(arr.astype(np.uint8), "RGB")
        image_kind = "synthetic 451x300"

    # CIDAS/clipseg-rd64-refined's processor, built here (no hub access).
    processor = CLIPSegProcessor(
        image_processor=ViTImageProcessor(
            do_resize=True, size={"height": 352, "width": 352}, resample=2, do_rescale=True,
            rescale_factor=1 / 255, do_normalize=True, image_mean=[0.485, 0.456, 0.406],
            image_std=[0.229, 0.224, 0.225]),
        tokenizer=CLIPTokenizer(os.path.join(args.tokenizer, "vocab.json"),
                                os.path.join(args.tokenizer, "merges.txt")))

    t0 = time.perf_counter()
    model = CLIPSegForImageSegmentation.from_pretrained(folder, dtype=torch.float32).eval().to(dev)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    load_s = time.perf_counter() - t0

    P = len(args.prompts)

    def run():
        inputs = processor(text=args.prompts, images=[image] * P, padding=True,
                           return_tensors="pt")
        # .cpu() waits for the device, as Ember's forward returns host logits
        return model(**{k: v.to(dev) for k, v in inputs.items()}).logits.cpu(), inputs

    times = []
    with torch.inference_mode():
        run()
        for _ in range(args.runs):
            a = time.perf_counter()
            logits, inputs = run()
            times.append(time.perf_counter() - a)
    # The first prompt alone (transformers repeats the image per prompt, so
    # the vision tower runs P times above and once here).
    single = []
    with torch.inference_mode():
        for r in range(args.runs + 1):
            a = time.perf_counter()
            processed = processor(text=args.prompts[:1], images=[image], padding=True,
                                  return_tensors="pt")
            model(**{k: v.to(dev) for k, v in processed.items()}).logits.cpu()
            if r > 0:
                single.append(time.perf_counter() - a)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("RESULT torch", torch.__version__, "threads", torch.get_num_threads())
    print("RESULT device", torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu")
    print("RESULT attn_implementation", getattr(model.config, "_attn_implementation", "?"))
    if dev.type == "cuda":
        print("RESULT peak_gpu_allocated_mib %.1f" % (torch.cuda.max_memory_allocated() / 2**20))
    print("RESULT image", image_kind)
    print("RESULT prompts", P, "tokens", inputs["input_ids"].shape[1])
    print("RESULT load_s %.3f" % load_s)
    print("RESULT forward_median_s %.4f" % statistics.median(times))
    print("RESULT forward_min_s %.4f" % min(times))
    print("RESULT forward_max_s %.4f" % max(times))
    print("RESULT single_prompt_median_s %.4f" % statistics.median(single))
    print("RESULT peak_rss_mib %.1f" % rss)

    if args.ember:
        P_e, L, S, O = (int(v) for v in open(os.path.join(args.ember, "shape.txt")).read().split())
        px = np.fromfile(os.path.join(args.ember, "pixels.f32"), np.float32).reshape(1, 3, S, S)
        ids = np.fromfile(os.path.join(args.ember, "ids.i32"), np.int32).reshape(P_e, L)
        eos = np.fromfile(os.path.join(args.ember, "eos.i32"), np.int32)
        ours = np.fromfile(os.path.join(args.ember, "logits.f32"), np.float32).reshape(P_e, O, O)
        mask = np.zeros_like(ids)
        for i, e in enumerate(eos):
            mask[i, :e + 1] = 1
        same_ids = (ids.shape == tuple(inputs["input_ids"].shape)
                    and bool((torch.from_numpy(ids).long() == inputs["input_ids"]).all()))
        pix_diff = float((torch.from_numpy(px[0]) - inputs["pixel_values"][0]).abs().max())
        with torch.inference_mode():
            ref = model(input_ids=torch.from_numpy(ids).long().to(dev),
                        attention_mask=torch.from_numpy(mask).long().to(dev),
                        pixel_values=torch.from_numpy(px).to(dev).expand(P_e, -1, -1, -1)).logits
        ref = ref.reshape(P_e, O, O).double().cpu().numpy()
        d = float(np.abs(ours.astype(np.float64) - ref).max())
        scale = float(np.abs(ref).max())
        print("RESULT token_ids_equal", same_ids)
        print("RESULT pixel_values_max_abs_diff %.4g" % pix_diff)
        print("RESULT logits_max_abs_diff %.3g" % d)
        print("RESULT logits_max_abs %.4g" % scale)
        print("RESULT logits_rel_diff %.3g" % (d / scale))

        def sigmoid(z):
            return 1 / (1 + np.exp(-z))
        probs = sigmoid(ours.astype(np.float64))
        print("RESULT probs_max_abs_diff %.3g" % float(np.abs(probs - sigmoid(ref)).max()))
        # each side with its own pre-processing and tokenizer (the last timed run)
        own = logits.reshape(P, O, O).double().numpy()
        if own.shape == probs.shape:
            print("RESULT probs_max_abs_diff_own_inputs %.3g" %
                  float(np.abs(probs - sigmoid(own)).max()))
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
