-- Entry point for wezterm.plugin.require: the plugin itself is wezterm-lua/plugin/init.lua in
-- this repository. This file only finds and loads it.
local wezterm = require 'wezterm'

local function readable(path)
  local f = path and io.open(path, 'r')
  if f then
    f:close()
    return true
  end
  return false
end

-- The repository root from this file's own path (.../plugin/init.lua).
local function root_of(file)
  if type(file) ~= 'string' then
    return nil
  end
  return file:match('^(.*)[/\\]plugin[/\\]init%.lua$')
end

local function find(...)
  local tried = {}
  local function try(root)
    if root then
      local path = root .. '/wezterm-lua/plugin/init.lua'
      tried[#tried + 1] = path
      if readable(path) then
        return path
      end
    end
  end
  -- 1. require (which wezterm.plugin.require uses) passes the file's path.
  local _, file = ...
  local found = try(root_of(file))
  if found then
    return found
  end
  -- 2. dofile: the chunk's name shows in an error raised here (unless it was abbreviated).
  local _, here = pcall(function()
    error('where', 1)
  end)
  here = type(here) == 'string' and here:match('^(.-):%d+: where$') or nil
  if here and not here:find('^%.%.%.') then
    found = try(root_of(here))
    if found then
      return found
    end
  end
  -- 3. The plugin list: first the checkouts of this project's URL, then any checkout that
  -- carries the plugin.
  local ok, list = pcall(wezterm.plugin.list)
  if ok and type(list) == 'table' then
    for _, p in ipairs(list) do
      local url = type(p.url) == 'string' and p.url:gsub('%.git/?$', ''):gsub('/$', '') or ''
      if url:match('[/:]panechat$') then
        found = try(p.plugin_dir)
        if found then
          return found
        end
      end
    end
    for _, p in ipairs(list) do
      found = try(p.plugin_dir)
      if found then
        return found
      end
    end
  end
  error(
    'panechat: cannot find wezterm-lua/plugin/init.lua (looked at: '
      .. table.concat(tried, ', ')
      .. '); load it directly with dofile("/path/to/panechat/wezterm-lua/plugin/init.lua")'
  )
end

return dofile(find(...))
