-- panechat: add these two lines to wezterm.lua, after `local config = wezterm.config_builder()`
local panechat = {{load}}
panechat.apply_to_config(config, { panechat = {{panechat_lua}} })
