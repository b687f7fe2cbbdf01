"""HTTP core shared by every vendor: budgeted transport, retries, auth, paginators."""
