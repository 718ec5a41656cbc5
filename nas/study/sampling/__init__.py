"""The samplers by name (samplers) and what tunes Optuna's to our spaces: GP's acquisition search
(acquisition), its EHVI (lean_ehvi), TPE's conversions (lean_tpe). A new sampler rule goes here."""
