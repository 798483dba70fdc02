#!/usr/bin/env python3
"""augment_torch.py — the torchvision side of bench/augment_cpu.sh: the q1
training augmentation (Q1_RECIPE.md) as torchvision.transforms v1 on PIL
images, on the same CIFAR-10 images as ember_augment_bench (the first N of
the archive's train split), in batches of B through a DataLoader (shuffled,
as in training; the dataset turns each HWC array into a PIL image, as
torchvision.datasets.CIFAR10 does). Measured: num_workers=0 (everything in
this process) and num_workers=W (persistent workers, so their start-up is
outside the timed epochs). One warm-up epoch, then the median of E epochs.

Prints "RESULT workers W images_per_s X (min..max) epoch_ms T"."""
import argparse
import statistics
import tarfile
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2471, 0.2435, 0.2616)


def read_train(archive, n):
    with tarfile.open(archive) as tar:
        names = sorted(m.name for m in tar.getmembers() if "data_batch_" in m.name)
        raw = b"".join(tar.extractfile(name).read() for name in names)
    rec = np.frombuffer(raw, np.uint8).reshape(-1, 3073)[:n]
    return np.ascontiguousarray(rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)), rec[:, 0]


class Images(Dataset):
    def __init__(self, pixels, labels, transform):
        self.pixels, self.labels, self.transform = pixels, labels, transform

    def __len__(self):
        return len(self.pixels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.pixels[i])), int(self.labels[i])


def recipe():
    return transforms.Compose([
        transforms.RandomCrop(32, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
        transforms.RandomAffine(degrees=15, translate=(0.1, 0.1)),
        transforms.RandomRotation(15),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("archive")
    ap.add_argument("--images", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = ap.parse_args()
    torch.set_num_threads(1)
    pixels, labels = read_train(args.archive, args.images)
    n = len(pixels)
    ds = Images(pixels, labels, recipe())
    print("RESULT versions torch %s torchvision %s pillow %s" %
          (torch.__version__, torchvision.__version__, Image.__version__))
    print("RESULT images %d batch %d epochs %d" % (n, args.batch, args.epochs))
    for w in args.workers:
        loader = DataLoader(ds, batch_size=args.batch, shuffle=True, num_workers=w,
                            persistent_workers=w > 0)
        times = []
        for e in range(args.epochs + 1):
            a = time.perf_counter()
            seen = 0
            for x, _ in loader:
                seen += x.shape[0]
            if e > 0:
                times.append(time.perf_counter() - a)
            assert seen == n
        del loader
        med = statistics.median(times)
        print("RESULT workers %d images_per_s %.0f (%.0f..%.0f) epoch_ms %.1f" %
              (w, n / med, n / max(times), n / min(times), 1e3 * med))


if __name__ == "__main__":
    main()
