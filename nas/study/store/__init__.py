"""The study's storage and run plumbing below the loop: opening storages (storage), riding out
outages (retrying, recovery), a trial's writes in one transaction (write_buffer), liveness of
running trials (liveness), and the typed records of trials and studies (records). A new storage
concern goes here."""
