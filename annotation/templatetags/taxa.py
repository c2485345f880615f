"""Template filters that name a taxon in the reader's language: `{{ taxon|taxon_name }}`, `{{
taxon|taxon_label }}`."""

from django import template

from annotation.models import Taxon
from annotation.taxon_names import queue_name as queue_name_of
from annotation.taxon_names import taxon_label as label_of
from annotation.taxon_names import taxon_name as name_of
from annotation.taxon_names import taxon_other_name as other_name_of

register = template.Library()


@register.filter
def taxon_name(taxon: Taxon | None) -> str:
    return name_of(taxon) if taxon is not None else ""


@register.filter
def taxon_other_name(taxon: Taxon | None) -> str:
    return other_name_of(taxon) if taxon is not None else ""


@register.filter
def queue_name(queue: dict) -> str:
    return queue_name_of(queue)


@register.filter
def taxon_label(taxon: Taxon | None) -> str:
    return label_of(taxon) if taxon is not None else ""
