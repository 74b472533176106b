"""RQ job functions, imported by `rq worker` from the queue named `hotline`."""
