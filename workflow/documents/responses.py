"""What every download answers with, whatever it carries."""
from urllib.parse import quote


def as_download(response, filename: str, fallback: str):
    """Make `response` a download: RFC 5987/6266 UTF-8 file name with an ASCII fallback,
    never sniffed as something else, never cached by a shared proxy."""
    kept = "".join(c for c in fallback if c.isascii() and (c.isalnum() or c in "._-"))
    ascii_name = kept if kept.rsplit(".", 1)[0].strip("._-") else "download"
    response["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
