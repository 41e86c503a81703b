-- A recording stand-in for WezTerm's `wezterm` module (stable 20240203-110809-5046fc22), with
-- the real API's names, argument orders and return values. `host` carries what Rust provides:
-- running child processes, JSON parsing and OSC 1337 decoding.
local host = ...

local W = {
  version = '20240203-110809-5046fc22',
  target_triple = 'x86_64-unknown-linux-gnu',
  home_dir = '/home/user',
  GLOBAL = {},
}

-- What the plugin did, for the tests to read.
local rec = {
  handlers = {},
  logs = {},
  toasts = {},
  actions = {},
  background = {},
  timers = {},
  children = 0,
  callbacks = 0,
}
W.__rec = rec

local function argcheck(cond, msg)
  if not cond then
    error(msg, 3)
  end
end

function W.on(name, fn)
  argcheck(type(name) == 'string', 'wezterm.on: the event name must be a string')
  argcheck(type(fn) == 'function', 'wezterm.on: the handler must be a function')
  rec.handlers[name] = rec.handlers[name] or {}
  table.insert(rec.handlers[name], fn)
end

-- Calls the handlers in registration order; one returning false stops the chain. Returns
-- whether the default action should run (no handler returned false).
function W.emit(name, ...)
  local hs = rec.handlers[name] or {}
  for _, h in ipairs(hs) do
    local r = h(...)
    if r == false then
      return false
    end
  end
  return true
end

for _, level in ipairs { 'log_info', 'log_warn', 'log_error' } do
  W[level] = function(...)
    local parts = {}
    for i = 1, select('#', ...) do
      parts[#parts + 1] = tostring(select(i, ...))
    end
    table.insert(rec.logs, { level = level, text = table.concat(parts, ' ') })
  end
end

-- Key assignments: `act.Name` for unit variants, `act.Name { ... }` / `act.Name(x)` for the
-- others; unknown names fail like WezTerm does when the config is converted.
local known = {
  SplitPane = true, SplitHorizontal = true, SplitVertical = true, InputSelector = true,
  PromptInputLine = true, EmitEvent = true, SpawnCommandInNewTab = true, SpawnTab = true,
  ActivatePaneDirection = true, ActivatePaneByIndex = true, CloseCurrentPane = true,
  SendString = true, Multiple = true, Nop = true, DisableDefaultAssignment = true,
  ShowLauncherArgs = true, ActivateTab = true, QuickSelect = true, CopyTo = true,
}
W.action = setmetatable({}, {
  __index = function(_, name)
    if not known[name] then
      error('wezterm.action: `' .. tostring(name) .. '` is not a known KeyAssignment', 2)
    end
    return setmetatable({ __unit = name }, {
      __call = function(_, args)
        return { [name] = args }
      end,
    })
  end,
})

function W.action_callback(fn)
  argcheck(type(fn) == 'function', 'wezterm.action_callback: expected a function')
  rec.callbacks = rec.callbacks + 1
  local name = 'user-defined-' .. rec.callbacks
  W.on(name, fn)
  return W.action.EmitEvent(name)
end

-- wezterm.format: Text is copied as is (no escaping), the rest become SGR sequences.
local ansi = {
  Black = 0, Maroon = 1, Green = 2, Olive = 3, Navy = 4, Purple = 5, Teal = 6, Silver = 7,
  Grey = 8, Red = 9, Lime = 10, Yellow = 11, Blue = 12, Fuchsia = 13, Aqua = 14, White = 15,
}
local function color(spec, base)
  argcheck(type(spec) == 'table', 'wezterm.format: a color must be {Color=...} or {AnsiColor=...}')
  if spec.Color then
    local r, g, b = tostring(spec.Color):match('^#(%x%x)(%x%x)(%x%x)$')
    if r then
      return string.format('\27[%d;2;%d;%d;%dm', base + 8, tonumber(r, 16), tonumber(g, 16), tonumber(b, 16))
    end
    return '\27[' .. (base + 8) .. ';5;15m'
  elseif spec.AnsiColor then
    local n = ansi[spec.AnsiColor]
    argcheck(n, 'wezterm.format: unknown AnsiColor ' .. tostring(spec.AnsiColor))
    return '\27[' .. (base + 8) .. ';5;' .. n .. 'm'
  end
  error('wezterm.format: a color must be {Color=...} or {AnsiColor=...}', 3)
end
function W.format(items)
  argcheck(type(items) == 'table', 'wezterm.format: expected a table of FormatItems')
  local out = {}
  for _, it in ipairs(items) do
    if it == 'ResetAttributes' then
      out[#out + 1] = '\27[0m'
    elseif type(it) == 'table' and it.Text ~= nil then
      argcheck(type(it.Text) == 'string', 'wezterm.format: Text must be a string')
      out[#out + 1] = it.Text
    elseif type(it) == 'table' and it.Foreground then
      out[#out + 1] = color(it.Foreground, 30)
    elseif type(it) == 'table' and it.Background then
      out[#out + 1] = color(it.Background, 40)
    elseif type(it) == 'table' and it.Attribute then
      local a = it.Attribute
      if a.Intensity == 'Bold' then
        out[#out + 1] = '\27[1m'
      elseif a.Intensity == 'Half' then
        out[#out + 1] = '\27[2m'
      elseif a.Italic ~= nil then
        out[#out + 1] = a.Italic and '\27[3m' or '\27[23m'
      else
        out[#out + 1] = '\27[22m'
      end
    elseif type(it) == 'table' and it.ResetAttributes ~= nil then
      out[#out + 1] = '\27[0m'
    else
      error('wezterm.format: unknown FormatItem', 2)
    end
  end
  return table.concat(out)
end

-- Child processes: counted, and run by the host (for real, or canned by the test).
function W.run_child_process(args)
  argcheck(type(args) == 'table' and type(args[1]) == 'string', 'run_child_process: expected an argv table')
  rec.children = rec.children + 1
  return host.run(args)
end

function W.background_child_process(args)
  argcheck(type(args) == 'table' and type(args[1]) == 'string', 'background_child_process: expected an argv table')
  rec.children = rec.children + 1
  table.insert(rec.background, args)
end

function W.json_parse(s)
  argcheck(type(s) == 'string', 'json_parse: expected a string')
  return host.json_parse(s)
end

function W.json_encode(v)
  return host.json_encode(v)
end

function W.hostname()
  return 'stubhost'
end

W.url = {
  parse = function(s)
    argcheck(type(s) == 'string', 'url.parse: expected a string')
    return host.url(s)
  end,
}

function W.config_builder()
  return {}
end

function W.strftime(fmt)
  return os.date(fmt)
end

-- Plugins: set by the test, as wezterm.plugin.require would have left them.
W.plugin = {
  __list = {},
  list = function()
    local out = {}
    for i, p in ipairs(W.plugin.__list) do
      out[i] = { url = p.url, component = p.component, plugin_dir = p.plugin_dir }
    end
    return out
  end,
  update_all = function() end,
}
-- Clones (here: copies the repository) into the plugins directory under the encoded URL and
-- requires it through package.path `<plugins>/?/plugin/init.lua`, as WezTerm does.
function W.plugin.require(url)
  argcheck(type(url) == 'string' and (url:match('^https://') or url:match('^file://')), 'plugin.require: the URL must use https or file')
  local component, dir, plugins = host.checkout(url)
  local known_entry = false
  for _, p in ipairs(W.plugin.__list) do
    known_entry = known_entry or p.component == component
  end
  if not known_entry then
    table.insert(W.plugin.__list, { url = url, component = component, plugin_dir = dir })
  end
  local pat = plugins .. '/?/plugin/init.lua'
  if not package.path:find(pat, 1, true) then
    package.path = pat .. ';' .. package.path
  end
  return require(component)
end

W.time = {
  call_after = function(seconds, fn)
    argcheck(type(seconds) == 'number', 'time.call_after: interval must be a number of seconds')
    argcheck(type(fn) == 'function', 'time.call_after: expected a function')
    table.insert(rec.timers, { seconds = seconds, fn = fn })
  end,
}

-- Mux: windows and panes --------------------------------------------------------------------

local panes, windows = {}, {}
local next_pane = 0

local Pane = {}
Pane.__index = Pane

function W.__new_pane(opts)
  opts = opts or {}
  local id = opts.id or next_pane
  next_pane = math.max(next_pane, id) + 1
  local p = setmetatable({
    __id = id,
    __vars = {},
    __tty = opts.tty or ('/dev/pts/' .. id),
    __title = opts.title or 'zsh',
    __output = {},
    __args = opts.args,
    __env = opts.env,
    __cwd = opts.cwd,
    __window = opts.window,
  }, Pane)
  panes[id] = p
  return p
end

function Pane:pane_id()
  return self.__id
end
function Pane:get_user_vars()
  local copy = {}
  for k, v in pairs(self.__vars) do
    copy[k] = v
  end
  return copy
end
function Pane:get_tty_name()
  return self.__tty
end
function Pane:get_title()
  return self.__title
end
-- The working directory the pane's shell reported (OSC 7) as a Url object (since
-- 20240127-113634-bbcac864; a URI string before), or nil when unknown. Tests set `__cwd` to
-- the URI.
function Pane:get_current_working_dir()
  if self.__cwd == nil then
    return nil
  end
  return host.url(self.__cwd)
end
function Pane:activate()
  rec.activated = self.__id
  if self.__window then
    self.__window.__active = self
  end
end
-- Sets a user var as the pane's program would (OSC 1337), firing user-var-changed.
function Pane:__set_var(name, value)
  self.__vars[name] = value
  local w = self.__window
  W.emit('user-var-changed', w, self, name, value)
end
function Pane:inject_output(text)
  argcheck(type(text) == 'string', 'inject_output: expected a string')
  table.insert(self.__output, text)
  for _, nv in ipairs(host.decode_osc(text)) do
    self:__set_var(nv[1], nv[2])
  end
end
-- pane:split{ args, cwd, set_environment_variables, domain, direction, top_level, size }:
-- direction is Right (default), Left, Top or Bottom; size a fraction below 1 or cells from 1
-- (default 0.5). Other fields are refused here (WezTerm would warn and ignore them).
local split_fields = {
  args = true, cwd = true, set_environment_variables = true, domain = true,
  direction = true, top_level = true, size = true,
}
function Pane:split(args)
  args = args or {}
  argcheck(type(args) == 'table', 'pane:split: expected a table')
  for k in pairs(args) do
    argcheck(split_fields[k], 'pane:split: unknown field `' .. tostring(k) .. '`')
  end
  local dirs = { Right = true, Left = true, Top = true, Bottom = true }
  argcheck(args.direction == nil or dirs[args.direction], 'pane:split: direction must be Right, Left, Top or Bottom')
  argcheck(args.size == nil or (type(args.size) == 'number' and args.size > 0), 'pane:split: size must be a number')
  argcheck(args.cwd == nil or type(args.cwd) == 'string', 'pane:split: cwd must be a string')
  if args.args ~= nil then
    argcheck(type(args.args) == 'table' and #args.args > 0, 'pane:split: args must be a non-empty argv table')
    for i, a in ipairs(args.args) do
      argcheck(type(a) == 'string', 'pane:split: args[' .. i .. '] must be a string')
    end
  end
  local p = W.__new_pane {
    args = args.args,
    env = args.set_environment_variables,
    cwd = args.cwd and ('file://' .. W.hostname() .. args.cwd:gsub('[^%w/%-%._~]', function(c)
      return string.format('%%%02X', c:byte())
    end)),
    window = self.__window,
  }
  table.insert(rec.splits, {
    from = self.__id,
    pane = p.__id,
    args = args.args,
    cwd = args.cwd,
    direction = args.direction or 'Right',
    size = args.size or 0.5,
    top_level = args.top_level or false,
  })
  return p
end
rec.splits = {}

local Window = {}
Window.__index = Window

function W.__new_window(opts)
  opts = opts or {}
  local w = setmetatable({ __id = #windows, __right = nil, __left = nil }, Window)
  windows[#windows + 1] = w
  return w
end
function Window:window_id()
  return self.__id
end
function Window:active_pane()
  return self.__active
end
function Window:set_right_status(s)
  argcheck(type(s) == 'string', 'set_right_status: expected a string')
  self.__right = s
end
function Window:set_left_status(s)
  argcheck(type(s) == 'string', 'set_left_status: expected a string')
  self.__left = s
end
function Window:toast_notification(title, message, url, timeout)
  argcheck(type(title) == 'string' and type(message) == 'string', 'toast_notification(title, message, [url, [timeout]])')
  table.insert(rec.toasts, { title = title, message = message, url = url, timeout = timeout })
end
-- The fields of the key assignments the stub checks, as WezTerm 20240203-110809-5046fc22
-- has them. PromptInputLine's `prompt` and `initial_value` came later (nightly): WezTerm
-- 20240203 ignores unknown fields with a warning; the stub refuses them.
local action_fields = {
  PromptInputLine = { description = true, action = true },
  SplitPane = { direction = true, size = true, command = true, top_level = true },
}
local command_fields = { label = true, args = true, cwd = true, set_environment_variables = true, domain = true, position = true }

local function check_fields(name, t, fields)
  argcheck(type(t) == 'table', name .. ': expected a table')
  for k in pairs(t) do
    argcheck(fields[k], name .. ': unknown field `' .. tostring(k) .. '` (not in WezTerm ' .. W.version .. ')')
  end
end

-- perform_action(action, pane): records it; SplitPane splits that pane and focuses the new
-- one, as WezTerm does; EmitEvent runs the handlers; PromptInputLine and InputSelector are
-- left open for the test to answer (through their action's event).
function Window:perform_action(action, pane)
  argcheck(type(action) == 'table', 'perform_action: expected a KeyAssignment')
  argcheck(getmetatable(pane) == Pane, 'perform_action: the second argument must be a Pane')
  table.insert(rec.actions, { action = action, pane = pane.__id })
  if action.SplitPane then
    local a = action.SplitPane
    check_fields('SplitPane', a, action_fields.SplitPane)
    local dir = ({ Right = 'Right', Left = 'Left', Up = 'Top', Down = 'Bottom' })[a.direction]
    argcheck(dir, 'SplitPane: direction must be Up, Down, Left or Right')
    local size = 0.5
    if a.size ~= nil then
      argcheck(type(a.size) == 'table' and (a.size.Percent or a.size.Cells), 'SplitPane: size must be { Percent = N } or { Cells = N }')
      size = a.size.Percent and a.size.Percent / 100 or a.size.Cells
    end
    local cmd = a.command or {}
    check_fields('SplitPane.command', cmd, command_fields)
    local p = pane:split {
      direction = dir,
      size = size,
      top_level = a.top_level,
      args = cmd.args,
      cwd = cmd.cwd,
      set_environment_variables = cmd.set_environment_variables,
    }
    self.__active = p
  elseif action.PromptInputLine then
    local a = action.PromptInputLine
    check_fields('PromptInputLine', a, action_fields.PromptInputLine)
    argcheck(a.description == nil or type(a.description) == 'string', 'PromptInputLine: description must be a string')
    argcheck(type(a.action) == 'table' and a.action.EmitEvent, 'PromptInputLine: action must be a wezterm.action_callback')
  elseif action.EmitEvent then
    W.emit(action.EmitEvent, self, pane)
  end
end

W.mux = {
  get_pane = function(id)
    argcheck(math.type(id) == 'integer', 'mux.get_pane: expected a pane id')
    local p = panes[id]
    if not p then
      error('pane id ' .. id .. ' not found in mux', 2)
    end
    return p
  end,
  all_windows = function()
    return windows
  end,
}

return W
