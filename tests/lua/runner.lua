-- tests/lua/runner.lua: runs every tests/lua/test_*.lua file.
--   luajit tests/lua/runner.lua tests/lua        (standalone, system luajit)
--   moongate lua-test tests/lua                  (the host sets package.path)
-- Each test file returns a table name -> function; a test fails by raising.
-- Prints "ok file: name" / "FAIL file: name: message", then "N passed, N failed",
-- and exits 1 when anything failed. Optional arg[2]: only files whose name
-- contains it.

local function script_dir()
  local src = debug.getinfo(1, "S").source
  src = src:sub(1, 1) == "@" and src:sub(2) or "tests/lua/runner.lua"
  return src:match("^(.*)/[^/]*$") or "."
end

local here = script_dir()
local repo = here .. "/../.."
package.path = repo .. "/lua/?.lua;" .. repo .. "/lua/?/init.lua;" .. here .. "/?.lua;" .. package.path
package.cpath = package.cpath .. ";/usr/lib/x86_64-linux-gnu/lua/5.1/?.so"

local dir = arg and arg[1] or here
local only = arg and arg[2]

local function list_tests(d)
  local files = {}
  local p = io.popen('ls -1 "' .. d .. '"')
  if not p then error("cannot list " .. d) end
  for name in p:lines() do
    if name:match("^test_.*%.lua$") and (not only or name:find(only, 1, true)) then files[#files + 1] = name end
  end
  p:close()
  table.sort(files)
  return files
end

local passed, failed = 0, 0
local failures = {}

for _, file in ipairs(list_tests(dir)) do
  local chunk, err = loadfile(dir .. "/" .. file)
  local suite
  if chunk then
    local ok, res = pcall(chunk)
    if ok then suite = res else err = res end
  end
  if type(suite) ~= "table" then
    failed = failed + 1
    print("FAIL " .. file .. ": cannot load: " .. tostring(err))
  else
    local names = {}
    for name in pairs(suite) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local ok, msg = xpcall(suite[name], function(e)
        return debug.traceback(tostring(e), 2)
      end)
      if ok then
        passed = passed + 1
        print("ok " .. file .. ": " .. name)
      else
        failed = failed + 1
        failures[#failures + 1] = file .. ": " .. name
        print("FAIL " .. file .. ": " .. name .. ": " .. tostring(msg))
      end
    end
  end
end

if failed > 0 then
  print("")
  print("failed:")
  for _, f in ipairs(failures) do print("  " .. f) end
end
print(passed .. " passed, " .. failed .. " failed")
os.exit(failed > 0 and 1 or 0)
