"""Hooks for the schemathesis runs of tests/test_api_contract.py (loaded by the CLI through
SCHEMATHESIS_HOOKS): what a file of each media type an evidence upload declares in its
``encoding`` looks like, so that a request the schema calls valid sends a real file of that
type (schemathesis otherwise sends any bytes as ``format: binary``, which no upload takes).
No Django here: the CLI runs in a process of its own."""
import io

import schemathesis
from hypothesis import strategies as st
from PIL import Image

PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")


def image(kind: str, size=(8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=kind)
    return buffer.getvalue()


for media_type, sample in (("image/png", image("PNG")), ("image/jpeg", image("JPEG")), ("image/gif", image("GIF")),
                           ("image/webp", image("WEBP")), ("application/pdf", PDF)):
    schemathesis.openapi.media_type(media_type, st.just(sample))
