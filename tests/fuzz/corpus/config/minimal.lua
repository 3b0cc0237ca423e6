return { providers = { { name = "m", format = "mock", models = { "x" } } } }
