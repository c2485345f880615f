"""Writes of the inference app: registry, pre-labelling, detections, the similarity index."""
