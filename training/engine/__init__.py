"""Training and evaluation code with no Django: arrays in, arrays and plain dataclasses out."""
