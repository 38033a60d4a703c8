"""kmdav: a self-hostable CRM around a CardDAV/CalDAV sync server."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kmdav")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
