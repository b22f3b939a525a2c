"""Dash Pages: one module per page (layout function + its callbacks). Modules starting with _ are helpers."""
