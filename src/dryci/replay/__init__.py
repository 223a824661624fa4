"""``dryci replay``: what DryCI would have saved, and whether it would have missed a failure, on a
repository's own history.

The command walks the last first-parent commits in a scratch git worktree (``history``), runs pytest
there with and without DryCI (``runs``), optionally makes the functions a commit changed raise
(``mutants``), and reports a table, JSON and an SVG chart (``report``, ``chart``). ``engine`` ties
them together; ``cli`` is the command line.
"""
