"""Training, extraction and evaluation of the letter classifier (not shipped with the server).

Run the scripts as modules from the repository root, e.g. ``python -m training.train``.
"""
