"""Everything that writes to the labelled pool goes through these functions."""
