"""Readers of call-record files, one module per format."""
