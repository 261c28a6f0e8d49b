"""Advisory feeds: an interface, then one module per feed (OSV, the Debian tracker)."""

from zerocve.vuln.feeds.debian_tracker import DebianTrackerFeed
from zerocve.vuln.feeds.interface import CODENAMES, Advisory, Affected, Feed
from zerocve.vuln.feeds.osv import OsvFeed

__all__ = ["CODENAMES", "Advisory", "Affected", "DebianTrackerFeed", "Feed", "OsvFeed"]
