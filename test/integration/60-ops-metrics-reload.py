#!/usr/bin/env python3
"""SIGHUP reads http_token_file again: the old token is then refused
(401) and the new one taken (200); a token file made unreadable keeps
the tokens of the last good read."""
import os
import signal
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import metricsutil as mu  # noqa: E402

NEW = "a-new-token-for-the-reload"


def test():
    tern_only("the HTTP listener")
    path = mu.token_file()
    with Broker(conf=mu.conf(path)) as b:
        mu.scrape(b.http_port)
        status, _, _ = mu.request(b.http_port, token=NEW)
        check_eq(status, 401, "the new token before the reload")
        mu.token_file(tokens=(NEW, "another-one"))
        b.signal(signal.SIGHUP)
        b.wait_log("http token file %s reloaded: 2 tokens" % path)
        status, _, _ = mu.request(b.http_port, token=mu.TOKEN)
        check_eq(status, 401, "the old token after the reload")
        mu.scrape(b.http_port, token=NEW)
        mu.scrape(b.http_port, token="another-one")
        # a file with no token is refused; the tokens stay
        with open(path, "w") as f:
            f.write("# nothing\n")
        b.signal(signal.SIGHUP)
        b.wait_log("http_token_file not reloaded")
        mu.scrape(b.http_port, token=NEW)


main(test)
