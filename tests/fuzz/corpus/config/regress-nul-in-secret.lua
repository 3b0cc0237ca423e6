return { admin_token = "\0abcdefghijklmnopqrstuvwxyz", providers = { { name = "m", format = "mock", models = { "x" } } } }
