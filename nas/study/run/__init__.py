"""Running work in a study: the one ask/tell loop (loop), asking ahead on a study thread
(prefetch), Ctrl-C held across an ask (interrupts), worker processes and their devices
(processes, placement), and the progress line (progress). Workloads (search, retrain, scale)
sit above, in nas.study."""
