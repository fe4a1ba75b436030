"""督办事项's own pages beside the platform's, in the namespace of the type they belong to."""


def patterns_for(key: str) -> list:
    return []
