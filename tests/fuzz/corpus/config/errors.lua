return {
  listen = "nohost", workers = 0, lsiten = 1, admin_token = "short",
  limits = { max_body_bytes = "big", header_timeout = -1 },
  providers = {
    { name = "Bad Name", format = "xml", base_url = "ftp://x\n", models = {} },
    { name = "dup", format = "openai", models = { "a" } },
    { name = "dup", format = "openai", base_url = "http://x", models = { 1, {}, "a\r\nb" }, headers = { ["bad header"] = os.getenv("FUZZ_API_KEY") } },
  },
  models = { x = 1, y = { input = -1, vendor = "?" } },
}
