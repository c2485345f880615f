"""Model code with no Django: plain dataclasses and arrays in and out, testable on tiny tensors."""
