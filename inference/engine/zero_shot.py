"""Pre-labels before any head is trained: ImageNet's 1,000 classes summed onto our taxa.

The table maps each taxon slug to the ImageNet-1k class indices that depict it. Taxa with no
ImageNet counterpart (red deer, roe deer, chamois, goat, genet, nutria, human, empty) are absent:
the zero-shot version cannot predict them, and every page marks its labels as zero-shot. Probability
mass on unmapped ImageNet classes is kept as an "other" remainder so that scores stay honest (a jeep
photo is not 90% fox)."""

import numpy as np

BIRD_INDICES = [*range(7, 25), *range(80, 101), *range(127, 147)]
IMAGENET_TO_TAXON: dict[str, list[int]] = {
    "badger": [362],
    "ibex": [350],
    "cat": [281, 282, 283, 284, 285],
    "dog": list(range(151, 269)),  # dog breeds
    "squirrel": [335],
    "equid": [339, 340],  # sorrel (horse), zebra
    "hedgehog": [334],  # "porcupine, hedgehog"
    "lagomorph": [330, 331, 332],  # wood rabbit, hare, Angora
    "wolf": [269, 270, 271, 272],  # timber, white, red wolf, coyote
    "lynx": [287],
    "marmot": [336],
    "micromammal": [333],  # hamster
    "mouflon": [349],  # bighorn, the nearest wild sheep
    "sheep": [348],  # ram
    "mustelid": [356, 357, 358, 359, 360],  # weasel, mink, polecat, black-footed ferret, otter
    "bird": BIRD_INDICES,
    "bear": [294, 295, 296, 297],
    "fox": [277, 278, 279, 280],
    "wild-boar": [341, 342, 343],  # hog, wild boar, warthog
    "cow": [345, 346, 347],  # ox, water buffalo, bison
    "vehicle": [
        407,
        436,
        468,
        511,
        555,
        569,
        595,
        609,
        627,
        656,
        661,
        665,
        670,
        671,
        675,
        717,
        734,
        751,
        817,
        864,
        866,
        867,
    ],
}


def zero_shot_slugs(available: set[str]) -> list[str]:
    """The zero-shot class list: mapped taxa that exist in this pool, in the table's order."""
    return [slug for slug in IMAGENET_TO_TAXON if slug in available]


def imagenet_to_taxa(imagenet_logits: np.ndarray, slugs: list[str]) -> np.ndarray:
    """Log-probabilities over `slugs`: summed ImageNet probabilities, not renormalised, so the mass
    left on unmapped ImageNet classes keeps every score low when the photo shows none of our
    taxa."""
    shifted = imagenet_logits - imagenet_logits.max(axis=-1, keepdims=True)
    probabilities = np.exp(shifted)
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    mapped = np.stack(
        [probabilities[..., IMAGENET_TO_TAXON[slug]].sum(axis=-1) for slug in slugs], axis=-1
    )
    log_probabilities: np.ndarray = np.log(np.clip(mapped, 1e-12, None))
    return log_probabilities
