-- Entry point for wezterm.plugin.require: the plugin itself is wezterm-lua/plugin/init.lua in
-- this repository. WezTerm clones the repository and loads this file with Lua's `require`
-- (through package.path's `<plugins>/?/plugin/init.lua`), which hands the chunk the path of
-- the file it loaded as its second argument: the plugin is found from there, nothing guessed.
local _, file = ...
local root = type(file) == 'string' and file:match('^(.*)[/\\]plugin[/\\]init%.lua$') or nil
if not root then
  error(
    'panechat: this file is loaded by wezterm.plugin.require; to load the plugin from a '
      .. 'file, use dofile("/path/to/panechat/wezterm-lua/plugin/init.lua")',
    2
  )
end
return dofile(root .. '/wezterm-lua/plugin/init.lua')
