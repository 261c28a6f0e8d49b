"""Advisory feeds: an interface (``interface``), then one module per feed (``osv``,
``debian_tracker``). Nothing is imported here: the feeds parse with pydantic, which a scan,
reading the built DB through ``interface``'s records alone, has no use for."""
