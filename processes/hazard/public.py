"""Filled in below."""
urls: dict = {}
public_urls: list = []
