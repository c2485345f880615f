"""HOW_TO_USE.md of a release: how to run its weights in DeepFaune's software and in Python with
timm. The Python lines are generated from the version itself (backbone, input size, resize,
normalisation, class count, temperature) so that they give the platform's own answer; a test runs
them against a downloaded archive."""

from dataclasses import dataclass
from typing import Any

from inference.engine.specs import DEEPFAUNE_DINOV2, DEEPFAUNE_DINOV3, BackboneSpec

TIMM_FILE = "timm-weights.pth"
ZERO_SHOT_TABLE = "imagenet-to-classes.json"
DEEPFAUNE_BACKBONES = {
    DEEPFAUNE_DINOV2.timm_name.split(".")[0],
    DEEPFAUNE_DINOV3.timm_name.split(".")[0],
}


@dataclass(frozen=True)
class Usage:
    semver: str
    spec: BackboneSpec
    outputs: str  # see inference.engine.export: classes, features (an MLP head beside) or imagenet
    num_classes: int  # of the timm model in TIMM_FILE
    temperature: float
    classes: list[dict[str, Any]]  # classes.json: index, name_en, name_fr...
    deepfaune_file: str | None  # the file DeepFaune's software loads, when the bundle has one
    head_file: str = "head.pt"


def how_to_use(usage: Usage) -> str:
    return "\n".join(
        [
            f"# How to use Faune {usage.semver}",
            "",
            "Every file of this archive is listed with its sha256 in `SHA256SUMS`; `classes.json` "
            "gives the classes in output order, in English and French; `MODEL_CARD.md` says what "
            "the weights were trained on and how well they do.",
            "",
            *_deepfaune_section(usage),
            *_python_section(usage),
        ]
    )


def _deepfaune_section(usage: Usage) -> list[str]:
    lines = ["## In DeepFaune's software", ""]
    if usage.deepfaune_file is None:
        why = (
            f"this release is built on `{usage.spec.timm_name}`"
            if not is_deepfaune_backbone(usage.spec)
            else "its head is a small MLP, which DeepFaune's checkpoint format cannot hold"
        )
        return [
            *lines,
            "DeepFaune's software runs its own classifier (a DINOv2 or DINOv3 ViT-L with one "
            f"linear layer) only; {why}. Use the Python lines below instead.",
            "",
        ]
    names = {
        language: [row[f"name_{language}"] for row in usage.classes] for language in ("fr", "en")
    }
    return [
        *lines,
        f"`{usage.deepfaune_file}` is in DeepFaune's own checkpoint format (`args` with the "
        f"backbone and {len(usage.classes)} classes, `state_dict` with keys under `base_model.`). "
        "In the folder of DeepFaune's software, edit `classifTools.py`:",
        "",
        f'1. Check that `BACKBONE` is `"{usage.spec.timm_name}"` and `CROP_SIZE` is '
        f"{usage.spec.input_size}.",
        f"2. Copy `{usage.deepfaune_file}` into that folder and set `weight_path` to its name "
        "(keep DeepFaune's own weights file to go back).",
        "3. Replace the lists of `txt_animalclasses` by these, in this order (DeepFaune names "
        "each output by its position and refuses weights whose class count differs from its "
        "lists; give every other language of the dictionary a list of the same length, or remove "
        "it):",
        "",
        "```python",
        "txt_animalclasses = {",
        *[f"    {language!r}: {names[language]!r}," for language in ("fr", "en")],
        "}",
        "```",
        "",
        "DeepFaune's detector crops the animals before this classifier sees them, as Faune does.",
        "",
    ]


def is_deepfaune_backbone(spec: BackboneSpec) -> bool:
    return spec.timm_name.split(".")[0] in DEEPFAUNE_BACKBONES


def _python_section(usage: Usage) -> list[str]:
    return [
        "## In Python, with timm",
        "",
        "With Python 3, `torch`, `torchvision`, `timm` and `Pillow` installed, these lines "
        "classify one photograph (`photo.jpg`; run them in this folder). Faune classifies the "
        "square crop around the animal's box when a detector (MegaDetector, DeepFaune's) found "
        "one: crop the same way for the same answers.",
        "",
        "```python",
        *python_lines(usage),
        "```",
        "",
    ]


def python_lines(usage: Usage) -> list[str]:
    spec = usage.spec
    options = "".join(f", {key}={value!r}" for key, value in spec.timm_kwargs().items())
    size = f"({spec.input_size}, {spec.input_size})"
    resample = "BICUBIC" if spec.interpolation == "bicubic" else "BILINEAR"
    return [
        "import json",
        "",
        "import timm",
        "import torch",
        "from PIL import Image, ImageOps",
        "from torchvision.transforms import functional as F",
        "",
        'classes = json.load(open("classes.json", encoding="utf-8"))',
        f'model = timm.create_model("{spec.timm_name}", pretrained=False, '
        f"num_classes={usage.num_classes}{options})",
        f'model.load_state_dict(torch.load("{TIMM_FILE}", map_location="cpu", weights_only=True))',
        "model.eval()",
        *_head_lines(usage),
        "",
        'image = ImageOps.exif_transpose(Image.open("photo.jpg")).convert("RGB")',
        f"image = image.resize({size}, Image.Resampling.{resample})",
        f"pixels = F.normalize(F.to_tensor(image), {list(spec.mean)}, "
        f"{list(spec.std)}).unsqueeze(0)",
        "with torch.no_grad():",
        *_score_lines(usage),
        "best = int(probabilities.argmax())",
        'print(classes[best]["name_en"], "/", classes[best]["name_fr"], '
        "round(float(probabilities[best]), 4))",
    ]


def _head_lines(usage: Usage) -> list[str]:
    if usage.outputs == "features":
        return [
            f'head = torch.load("{usage.head_file}", map_location="cpu", '
            'weights_only=True)["state"]  # the MLP on the pooled features'
        ]
    if usage.outputs == "imagenet":
        return [
            f'table = json.load(open("{ZERO_SHOT_TABLE}"))'
            "  # per class, the ImageNet classes it gathers"
        ]
    return []


def _score_lines(usage: Usage) -> list[str]:
    if usage.outputs == "features":
        return [
            '    x = (model(pixels) - head["0.mean"]) / head["0.scale"]',
            '    x = torch.nn.functional.gelu(x @ head["1.weight"].T + head["1.bias"])',
            '    logits = x @ head["4.weight"].T + head["4.bias"]',
            f"    probabilities = (logits / {usage.temperature!r}).softmax(dim=1)[0]",
        ]
    if (
        usage.outputs == "imagenet"
    ):  # the zero-shot version: ImageNet probabilities summed per class
        return [
            "    imagenet = model(pixels).softmax(dim=1)[0]",
            "    probabilities = torch.stack([imagenet[indices].sum() for indices in table])",
        ]
    return [f"    probabilities = (model(pixels) / {usage.temperature!r}).softmax(dim=1)[0]"]
