"""Runs: request, queue, perform, heartbeat, finish, cancel; leases; the daily schedule; replays; the runs API."""
