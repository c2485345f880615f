"""How a backbone wants its pixels: the facts a ModelVersion records so any worker can rebuild
the model."""

from dataclasses import asdict, dataclass, field
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    timm_name: str
    input_size: int
    interpolation: str = "bicubic"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    crop: str = "square_box"  # square crop around the best animal box, else the whole image
    pooling: str = "default"  # "tokens": average of patch tokens (DeepFaune's DINOv3 releases)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BackboneSpec":
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        for key in ("mean", "std"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)

    def timm_kwargs(self) -> dict[str, Any]:
        """What `timm.create_model` needs besides the name and class count to build this spec's
        model (also written into the releases' instructions, so that others build exactly the
        same model)."""
        kwargs: dict[str, Any] = {}
        if self.timm_name.startswith(("vit", "eva", "deit")):
            kwargs["dynamic_img_size"] = (
                True  # DeepFaune runs DINOv2 at 182 px, not the pretraining size
            )
        if self.pooling not in ("default", ""):
            kwargs["global_pool"] = self.pooling
        return kwargs

    @property
    def key(self) -> str:
        """Embeddings from two specs are comparable only when this key is equal: a
        fine-tuned backbone records its weights' hash in `extra`, so its embeddings never
        mix with the original's."""
        weights = self.extra.get("weights")
        return f"{self.timm_name}@{self.input_size}:{self.pooling}" + (
            f":{weights}" if weights else ""
        )


EFFICIENTNET_LITE0 = BackboneSpec(timm_name="efficientnet_lite0", input_size=224)
DEEPFAUNE_DINOV2 = BackboneSpec(timm_name="vit_large_patch14_dinov2.lvd142m", input_size=182)
DEEPFAUNE_DINOV3 = BackboneSpec(
    timm_name="vit_large_patch16_dinov3.lvd1689m", input_size=224, pooling="tokens"
)
