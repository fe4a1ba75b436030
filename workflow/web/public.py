"""Pages served without a login, and what guards them.

Each app declaring case types may define ``public_patterns()`` in its ``urls`` module: its
pages for people who have no account (a form the public fills in, its follow-up page). They
are mounted under
``public/<app label>/`` in the namespace ``public:<app label>``, on the main site and, alone,
on a host that serves only them (config/urls_public.py, ``DUBAN_PUBLIC_ONLY``).

Such a page is throttled by the client's address with ``over_limit`` / ``count``: a fixed window
per bucket in Django's cache (``PUBLIC_RATE_LIMITS``: bucket -> (requests, seconds)). The cache
must be one all the server's processes share (CACHE_URL) for the limit to hold across them.
Behind a reverse proxy every request comes from the proxy: ``PUBLIC_CLIENT_IP_HEADER`` names the
header the proxy sets to the client's address (e.g. ``HTTP_X_REAL_IP``). An IPv6 client is
counted by its /64 network, which one subscriber usually holds whole."""
import hashlib
import ipaddress
import time
from importlib import import_module
from importlib.util import find_spec

from django.conf import settings
from django.core.cache import cache
from django.urls import include, path

from workflow.kernel import registry

PREFIX = "public/"
NAMESPACE = "public"


def app_public_patterns() -> list:
    """The public pages of every app that declares case types, each under ``<label>/`` in its
    own namespace (the apps' other URL modules are never imported here)."""
    found, seen = [], set()
    for spec in registry.case_types():
        config = registry.model_for(spec.key)._meta.app_config
        if config.label in seen:
            continue
        seen.add(config.label)
        module = f"{config.name}.urls"
        if not find_spec(module):
            continue
        urls = import_module(module)
        if hasattr(urls, "public_patterns"):
            found.append(path(f"{config.label}/", include((list(urls.public_patterns()), config.label))))
    return found


def public_urls() -> list:
    """The one entry to mount in a URLconf: ``public/`` with every app's public pages."""
    return [path(PREFIX, include((app_public_patterns(), NAMESPACE)))]


def as_anonymous(view):
    """Serve the page as to someone signed out, whoever asks: nothing on a public page depends
    on an account, and on a public-only host none of the signed-in site's pages (its menu) exists."""
    from functools import wraps

    from django.contrib.auth.models import AnonymousUser

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        request.user = AnonymousUser()
        return view(request, *args, **kwargs)

    return wrapped


# Throttling by the client's address -------------------------------------------------------------
def client_address(request) -> str:
    """The client's address as counted: the proxy's header when one is configured, else the
    connection's; an IPv6 address as its /64 network."""
    header = getattr(settings, "PUBLIC_CLIENT_IP_HEADER", "")
    raw = (request.META.get(header, "") if header else "") or request.META.get("REMOTE_ADDR", "")
    raw = raw.split(",")[0].strip()[:64]
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return "unknown"
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _limit(bucket: str) -> tuple[int, int]:
    requests, seconds = settings.PUBLIC_RATE_LIMITS[bucket]
    return int(requests), max(int(seconds), 1)


def _key(bucket: str, request) -> tuple[str, int]:
    _requests, seconds = _limit(bucket)
    window = int(time.time()) // seconds
    who = hashlib.sha256(client_address(request).encode()).hexdigest()[:32]
    return f"public-throttle:{bucket}:{who}:{window}", seconds


def over_limit(bucket: str, request) -> bool:
    """Whether the client has used up the bucket's requests in the current window."""
    requests, _seconds = _limit(bucket)
    key, _ = _key(bucket, request)
    return (cache.get(key) or 0) >= requests


def count(bucket: str, request) -> bool:
    """Count one request in the bucket; True when it was over the limit (the caller refuses it)."""
    requests, _seconds = _limit(bucket)
    key, seconds = _key(bucket, request)
    cache.add(key, 0, timeout=seconds + 5)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds + 5)
        used = 1
    return used > requests


def retry_after(bucket: str) -> int:
    """Seconds until the current window ends."""
    _requests, seconds = _limit(bucket)
    return seconds - int(time.time()) % seconds
