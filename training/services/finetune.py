"""Rounds in fine-tune mode: every weight of the production backbone trained on square crops of the
labelled images (GPU when the worker has one), scored like a head round, registered as a checkpoint
version whose embeddings get a backbone key of their own. A DeepFaune backbone is saved in
DeepFaune's own format."""

import copy
from pathlib import Path

import numpy as np
import torch
from django.conf import settings
from torch.utils.data import DataLoader

from annotation.models import Image, Taxon
from annotation.services.stored_files import cached_local_file
from faune_platform.boxes import Category
from faune_platform.files import file_sha256
from inference.engine.backbones import timm_interface
from inference.engine.preprocess import CropRequest
from inference.engine.specs import BackboneSpec
from inference.models import HeadKind, ModelVersion
from inference.services.boxes import choose_boxes
from inference.services.registry import model_version_register, models_dir
from inference.services.runtime import runner_for
from training.engine.finetune import CropDataset, FinetuneConfig, finetune
from training.engine.heads import fit_temperature
from training.engine.splits import TRAIN, VALIDATION
from training.models import TrainingRound
from training.services.round_data import (
    RoundData,
    cancel_check,
    candidate_register,
    epoch_logger,
    evaluate_round,
    lineage_of,
)

DEEPFAUNE_BACKBONES = ("vit_large_patch14_dinov2", "vit_large_patch16_dinov3")


def _crops(image_ids: np.ndarray) -> np.ndarray:
    images = Image.objects.in_bulk(image_ids.tolist())
    ordered = [images[i] for i in image_ids.tolist()]
    choices = choose_boxes(ordered, threshold=settings.FAUNE["DETECTION_THRESHOLD"])
    animal_boxes = [
        choice.box if choice.category == Category.ANIMAL else None for choice in choices
    ]
    requests = [
        CropRequest(str(cached_local_file(image.file)), box)
        for image, box in zip(ordered, animal_boxes, strict=True)
    ]
    return np.array(requests, dtype=object)


def predict_logits(model: torch.nn.Module, *, spec: BackboneSpec, items: np.ndarray) -> np.ndarray:
    device = next(model.parameters()).device
    loader = DataLoader(
        CropDataset(list(items), np.zeros(len(items), dtype=np.int64), spec, train=False),
        batch_size=32,
    )
    model.eval()
    with torch.no_grad():
        return np.concatenate(
            [model(pixels.to(device)).float().cpu().numpy() for pixels, _ in loader]
        )


def _save(
    model: torch.nn.Module, spec: BackboneSpec, num_classes: int, round_id: int
) -> tuple[Path, str]:
    path = models_dir() / f"round-{round_id}" / "checkpoint.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.cpu() for k, v in model.state_dict().items()}
    if spec.timm_name.startswith(DEEPFAUNE_BACKBONES):
        fmt = "deepfaune"
        torch.save(
            {
                "args": {"backbone": spec.timm_name, "num_classes": num_classes},
                "state_dict": {f"base_model.{k}": v for k, v in state.items()},
            },
            path,
        )
    else:
        fmt = "timm"
        torch.save(state, path)
    return path, fmt


def finetune_candidate(
    training_round: TrainingRound, *, parent: ModelVersion, data: RoundData
) -> ModelVersion:
    params, round_id = training_round.params, training_round.pk
    spec = BackboneSpec.from_dict(parent.backbone)
    model = copy.deepcopy(
        runner_for(parent.pk).classifier.model
    )  # never train the worker's cached model
    timm_interface(model).reset_classifier(len(data.classes))
    items = _crops(data.snapshot.image_ids)
    train, val = data.subset[TRAIN], data.subset[VALIDATION]
    config = FinetuneConfig(
        epochs=int(params.get("finetune_epochs", 10)),
        seed=training_round.seed,
        batch_size=int(params.get("batch_size", 32)),
        workers=int(params.get("loader_workers", 2)),
    )
    state, best_epoch = finetune(
        model,
        spec,
        (list(items[train]), data.y[train]),
        (list(items[val]), data.y[val]),
        config,
        on_epoch=epoch_logger(round_id, epochs=config.epochs),
        should_stop=cancel_check(round_id),
    )
    model.load_state_dict(state)
    temperature = fit_temperature(predict_logits(model, spec=spec, items=items[val]), data.y[val])
    metrics = evaluate_round(
        training_round,
        data=data,
        logits_of=lambda mask: predict_logits(model, spec=spec, items=items[mask]),
        temperature=temperature,
        parent=parent,
    )
    path, fmt = _save(model.cpu(), spec, len(data.classes), round_id)
    tuned = BackboneSpec.from_dict(
        {**spec.to_dict(), "extra": {**spec.extra, "weights": file_sha256(path)[:12]}}
    )
    training_round.refresh_from_db(fields=["snapshot"])
    taxa = Taxon.objects.in_bulk(data.classes)
    return candidate_register(
        round_id,
        register=lambda: model_version_register(
            name="faune-finetuned",
            version=f"round-{round_id}",
            spec=tuned,
            head_kind=HeadKind.CHECKPOINT,
            classes=[taxa[t] for t in data.classes],
            files={"checkpoint": path},
            copy_files=False,
            temperature=temperature,
            detector=parent.detector,
            formats={"checkpoint": fmt},
            lineage=lineage_of(
                training_round,
                parent=parent,
                snapshot=data.snapshot,
                metrics=metrics,
                best_epoch=best_epoch,
            ),
            created_by=training_round.created_by,
            notes=(
                f"Backbone fine-tuned in round {round_id} on {len(data.snapshot.label_ids)} labels."
            ),
        ),
    )
