"""The collector workspace's pages: worklist and tasks (worklist.py), the customer timeline and what a
collector logs from it (timeline.py), and the inbound-email queue (inbound.py)."""
