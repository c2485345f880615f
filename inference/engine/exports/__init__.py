"""Writers of the standard formats camera-trap people exchange (Camtrap DP, COCO Camera Traps,
DeepFaune's result table and class folders, MegaDetector batch output). No Django here: they receive
plain records (`records.py`) and write rows; what is in scope, who may export it and how the job
runs live in inference/services/exports/."""
