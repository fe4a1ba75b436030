"""Filled in below."""
urls: dict = {}
