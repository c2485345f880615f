"""Template filters that name a taxon in the reader's language: `{{ taxon|taxon_name }}`, `{{
taxon|taxon_label }}`."""

from django import template

from annotation.models import Taxon
from annotation.taxon_names import taxon_label as label_of
from annotation.taxon_names import taxon_name as name_of

register = template.Library()


@register.filter
def taxon_name(taxon: Taxon | None) -> str:
    return name_of(taxon) if taxon is not None else ""


@register.filter
def taxon_label(taxon: Taxon | None) -> str:
    return label_of(taxon) if taxon is not None else ""
