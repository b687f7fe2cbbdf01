"""The convergence soak (issue 14): a seeded model-based test over the five sandboxes.

`harness.py` serves the sandboxes and drives real `syncd` processes (killed with SIGKILL at
random instants); `vendors.py` knows where each sandbox keeps its proposals; `model.py` is
the hypothesis state machine and the invariants checked after quiescence; `run.py` is what
`make soak` runs (it writes RELIABILITY.md); `test_soak.py` is the bounded CI slice.
"""
