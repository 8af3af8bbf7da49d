"""Tests of the built-in stages, with their real models and the committed photos."""
