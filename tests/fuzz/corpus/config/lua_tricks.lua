local t = setmetatable({}, { __index = function() error("meta") end, __pairs = function() error("pairs") end })
local p = {}
for i = 1, 50 do p[#p + 1] = { name = "p" .. i, format = "mock", models = { string.rep("m", i) } } end
local ok = pcall(load, "return 1")
return setmetatable({ providers = p, models = t, [1] = 2, [true] = 3 }, { __newindex = error })
