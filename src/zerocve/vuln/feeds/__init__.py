"""Advisory feeds: an interface, then one module per feed (OSV, the Debian tracker)."""

from zerocve.vuln.feeds.debian_tracker import DebianTrackerFeed
from zerocve.vuln.feeds.interface import Advisory, Affected, Feed
from zerocve.vuln.feeds.osv import OsvFeed

__all__ = ["Advisory", "Affected", "DebianTrackerFeed", "Feed", "OsvFeed"]
