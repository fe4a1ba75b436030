"""(being written)"""
urls: dict = {}
