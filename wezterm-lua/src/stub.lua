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
  -- `pane:get_user_vars()` calls (what a handler that runs at every redraw costs)
  var_reads = 0,
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
  ShowLauncherArgs = true, ActivateTab = true, QuickSelect = true, CopyTo = true, SendKey = true,
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

-- Mux: windows, tabs, panes and overlays -----------------------------------------------------
--
-- As WezTerm has them (wezterm-gui/src/termwindow, lua-api-crates/mux, 20240203 to
-- 20250223): a window holds tabs, one of them active; a tab holds panes, one of them active.
-- The GUI window and the mux window are one object here. Overlays (InputSelector,
-- PromptInputLine) belong to a tab: perform_action opens them in the window's ACTIVE tab,
-- whatever pane it is given, replacing (without a callback) an overlay already there; their
-- callback gets the tab's active pane. An overlay is a pane of its own in the mux (not in any
-- tab); it stays until the user answers or cancels it, or a key is sent to it
-- (`perform_action(act.SendKey { key = 'Escape' }, overlay_pane)` cancels it, calling its
-- callback with nil). A killed pane (`wezterm cli kill-pane`) leaves the mux:
-- `mux.get_pane(id)` raises "pane id N not found in mux", `mux.all_windows()` and
-- `wezterm cli list` no longer list it; an emptied tab or window goes with it
-- (`mux.get_tab(id)` then raises "tab id N not found in mux").

local panes, windows, tabs = {}, {}, {}
local next_pane, next_tab, next_window = 0, 0, 0
rec.splits = {}
rec.overlays = {}

local Pane, Tab, Window = {}, {}, {}
Pane.__index = Pane
Tab.__index = Tab
Window.__index = Window

local function remove(list, x)
  for i, v in ipairs(list) do
    if v == x then
      table.remove(list, i)
      return i
    end
  end
end

local function new_tab(w)
  local t = setmetatable({ __id = next_tab, __window = w, __panes = {}, __active = nil, __overlay = nil }, Tab)
  tabs[next_tab] = t
  next_tab = next_tab + 1
  table.insert(w.__tabs, t)
  if not w.__active_tab then
    w.__active_tab = t
  end
  return t
end

function W.__new_window(opts)
  opts = opts or {}
  local w = setmetatable({ __id = next_window, __tabs = {}, __active_tab = nil, __right = nil, __left = nil, __cols = opts.cols or 120 }, Window)
  next_window = next_window + 1
  windows[#windows + 1] = w
  return w
end

--- A new tab in window `w` (the window's active tab only when it is its first).
function W.__new_tab(w)
  return new_tab(w)
end

--- A pane: `id`, `window` (into its active tab, a first tab made if needed) or `tab`, `tty`,
--- `title`, `cwd` (a URI), `args`, `env`. The first pane of a tab is its active one.
function W.__new_pane(opts)
  opts = opts or {}
  local id = opts.id or next_pane
  argcheck(panes[id] == nil, '__new_pane: pane ' .. id .. ' exists')
  next_pane = math.max(next_pane, id) + 1
  local tab = opts.tab
  if not tab and opts.window then
    tab = opts.window.__active_tab or new_tab(opts.window)
  end
  local p = setmetatable({
    __id = id,
    __vars = {},
    __tty = opts.tty or ('/dev/pts/' .. id),
    __title = opts.title or 'zsh',
    __output = {},
    __keys = {},
    __args = opts.args,
    __env = opts.env,
    __cwd = opts.cwd,
    __tab = tab,
  }, Pane)
  panes[id] = p
  if tab then
    local at = #tab.__panes + 1
    for i, q in ipairs(tab.__panes) do
      if q == opts.after then
        at = i + 1
      end
    end
    table.insert(tab.__panes, at, p)
    tab.__active = tab.__active or p
  end
  return p
end

-- Pane ----------------------------------------------------------------------------------------

local function alive(p)
  return panes[p.__id] == p
end

local function resolve(p)
  if not alive(p) then
    error('pane id ' .. tostring(p.__id) .. ' not found in mux', 3)
  end
  return p
end

function Pane:pane_id()
  return self.__id
end
function Pane:get_user_vars()
  rec.var_reads = rec.var_reads + 1
  resolve(self)
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
  resolve(self)
  if self.__cwd == nil then
    return nil
  end
  return host.url(self.__cwd)
end
-- The MuxTab and MuxWindow of the pane (nil for an overlay, which is in no tab).
function Pane:tab()
  resolve(self)
  return self.__tab
end
function Pane:window()
  resolve(self)
  return self.__tab and self.__tab.__window
end
-- Makes the pane its tab's active pane and that tab its window's active tab.
function Pane:activate()
  resolve(self)
  argcheck(self.__tab, 'pane ' .. self.__id .. ' not found')
  rec.activated = self.__id
  self.__tab.__window.__active_tab = self.__tab
  self.__tab.__active = self
end
-- Sets a user var as the pane's program would (OSC 1337), firing user-var-changed with the
-- window that holds the pane.
function Pane:__set_var(name, value)
  resolve(self)
  self.__vars[name] = value
  W.emit('user-var-changed', self:window(), self, name, value)
end
function Pane:inject_output(text)
  resolve(self)
  argcheck(type(text) == 'string', 'inject_output: expected a string')
  table.insert(self.__output, text)
  for _, nv in ipairs(host.decode_osc(text)) do
    self:__set_var(nv[1], nv[2])
  end
end
-- pane:split{ args, cwd, set_environment_variables, domain, direction, top_level, size }:
-- direction is Right (default), Left, Top or Bottom; size a fraction below 1 or cells from 1
-- (default 0.5). Other fields are refused here (WezTerm would warn and ignore them). The new
-- pane goes next to this one in its tab and becomes the tab's active pane.
local split_fields = {
  args = true, cwd = true, set_environment_variables = true, domain = true,
  direction = true, top_level = true, size = true,
}
function Pane:split(args)
  resolve(self)
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
    tab = self.__tab,
    after = self,
  }
  if self.__tab then
    self.__tab.__active = p
  end
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

-- Tab -----------------------------------------------------------------------------------------

function Tab:tab_id()
  return self.__id
end
function Tab:window()
  return self.__window
end
function Tab:panes()
  local out = {}
  for i, p in ipairs(self.__panes) do
    out[i] = p
  end
  return out
end
function Tab:active_pane()
  return self.__active
end
function Tab:activate()
  self.__window.__active_tab = self
end

-- Window --------------------------------------------------------------------------------------

function Window:window_id()
  return self.__id
end
function Window:mux_window()
  return self
end
function Window:tabs()
  local out = {}
  for i, t in ipairs(self.__tabs) do
    out[i] = t
  end
  return out
end
function Window:active_tab()
  return self.__active_tab
end
-- The GUI window's active pane: the active tab's overlay when it has one, else its active pane.
function Window:active_pane()
  local t = self.__active_tab
  if not t then
    return nil
  end
  return t.__overlay and t.__overlay.pane or t.__active
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
-- What the retro tab bar shows of the right status when `space` cells are left for it
-- (`__cols` less the tabs by default): its visible text, cells removed from the LEFT while it
-- is too wide (tabbar.rs), a wide (East Asian) character counting 2 cells.
function Window:__right_shown(space)
  local text = host.visible(self.__right or '')
  return host.cut_left(text, space or self.__cols)
end

-- The fields of the key assignments the stub checks, as WezTerm 20240203-110809-5046fc22
-- has them. PromptInputLine's `prompt` and `initial_value` came later (nightly): WezTerm
-- 20240203 ignores unknown fields with a warning; the stub refuses them.
local action_fields = {
  PromptInputLine = { description = true, action = true },
  InputSelector = { title = true, choices = true, fuzzy = true, alphabet = true, description = true, fuzzy_description = true, action = true },
  SplitPane = { direction = true, size = true, command = true, top_level = true },
}
local command_fields = { label = true, args = true, cwd = true, set_environment_variables = true, domain = true, position = true }

local function check_fields(name, t, fields)
  argcheck(type(t) == 'table', name .. ': expected a table')
  for k in pairs(t) do
    argcheck(fields[k], name .. ': unknown field `' .. tostring(k) .. '` (not in WezTerm ' .. W.version .. ')')
  end
end

local function close_overlay(t)
  local o = t.__overlay
  if o then
    t.__overlay = nil
    panes[o.pane.__id] = nil
    o.closed = true
  end
  return o
end

-- Opens an overlay in the window's active tab (show_input_selector / show_prompt_input_line).
local function open_overlay(w, kind, args)
  local t = w.__active_tab
  if not t or not t.__active then
    return
  end
  close_overlay(t)
  local p = W.__new_pane { title = args.title ~= '' and args.title or kind }
  local o = { kind = kind, args = args, tab = t.__id, over = t.__active.__id, pane = p, window = w }
  p.__overlay = o
  t.__overlay = o
  table.insert(rec.overlays, o)
  return o
end

-- Ends an overlay as its own loop does: the callback (window, the pane under it, …) runs, and
-- the overlay goes.
local function finish_overlay(o, ...)
  local t
  for _, w in ipairs(windows) do
    for _, tab in ipairs(w.__tabs) do
      if tab.__overlay == o then
        t = tab
      end
    end
  end
  if not t then
    return false
  end
  close_overlay(t)
  local under = panes[o.over]
  if under then
    W.emit(o.args.action.EmitEvent, o.window, under, ...)
  end
  return true
end

-- perform_action(action, pane): records it. The pane must still be in the mux (an overlay's
-- pane counts). SplitPane splits that pane and focuses the new one, as WezTerm does; EmitEvent
-- runs the handlers; PromptInputLine and InputSelector open an overlay in the window's active
-- tab (see above), left open for the test to answer with `__answer`; SendKey Escape to an
-- overlay's pane cancels it; other keys are recorded in the pane's `__keys`.
function Window:perform_action(action, pane)
  argcheck(type(action) == 'table', 'perform_action: expected a KeyAssignment')
  argcheck(getmetatable(pane) == Pane, 'perform_action: the second argument must be a Pane')
  if not alive(pane) then
    error('perform_action: pane id ' .. tostring(pane.__id) .. ' is not valid', 2)
  end
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
    pane:split {
      direction = dir,
      size = size,
      top_level = a.top_level,
      args = cmd.args,
      cwd = cmd.cwd,
      set_environment_variables = cmd.set_environment_variables,
    }
  elseif action.PromptInputLine then
    local a = action.PromptInputLine
    check_fields('PromptInputLine', a, action_fields.PromptInputLine)
    argcheck(a.description == nil or type(a.description) == 'string', 'PromptInputLine: description must be a string')
    argcheck(type(a.action) == 'table' and a.action.EmitEvent, 'PromptInputLine: action must be a wezterm.action_callback')
    open_overlay(self, 'PromptInputLine', a)
  elseif action.InputSelector then
    local a = action.InputSelector
    check_fields('InputSelector', a, action_fields.InputSelector)
    argcheck(type(a.choices) == 'table', 'InputSelector: choices must be a table')
    argcheck(type(a.action) == 'table' and a.action.EmitEvent, 'InputSelector: action must be a wezterm.action_callback')
    open_overlay(self, 'InputSelector', a)
  elseif action.SendKey then
    local o = pane.__overlay
    if o and action.SendKey.key == 'Escape' then
      finish_overlay(o, nil, nil)
    else
      table.insert(pane.__keys, action.SendKey)
    end
  elseif action.EmitEvent then
    W.emit(action.EmitEvent, self, pane)
  end
end

--- The overlay shown in window `w` (in its active tab), or nil.
function W.__overlay(w)
  local t = w.__active_tab
  return t and t.__overlay
end

--- The user answers the overlay shown in window `w`: a choice id (InputSelector; its label is
--- looked up) or a line (PromptInputLine); nil is Esc. Fails when `w` shows no overlay.
function W.__answer(w, value)
  local o = W.__overlay(w)
  argcheck(o, '__answer: window ' .. w.__id .. ' shows no overlay')
  if o.kind == 'InputSelector' and value ~= nil then
    for _, c in ipairs(o.args.choices) do
      if c.id == value or (c.id == nil and c.label == value) then
        return finish_overlay(o, value, c.label)
      end
    end
    error('__answer: the overlay has no choice ' .. tostring(value), 2)
  end
  return finish_overlay(o, value, value)
end

--- The rows an InputSelector shows for `filter` (selector.rs update_filter): every choice in
--- the plugin's order when the filter is empty; else the choices whose label fuzzy-matches it
--- (skim's matcher, as WezTerm's), best score first, equal scores in the plugin's order. The
--- active row is the first: WezTerm 20240203 to 20250223 have no field for an initial
--- selection, and typing resets it to the first row.
function W.__filtered(o, filter)
  local choices = o.args.choices
  if filter == nil or filter == '' then
    return choices
  end
  local scored = {}
  for i, c in ipairs(choices) do
    local score = host.fuzzy_match(c.label, filter)
    if score then
      scored[#scored + 1] = { i = i, score = score }
    end
  end
  table.sort(scored, function(a, b)
    if a.score ~= b.score then
      return a.score > b.score
    end
    return a.i < b.i
  end)
  local out = {}
  for k, s in ipairs(scored) do
    out[k] = choices[s.i]
  end
  return out
end

--- The lines WezTerm draws in an InputSelector overlay (selector.rs): the description, or in
--- fuzzy mode `fuzzy_description .. filter`, then a row per choice that matches `filter`.
function W.__overlay_lines(o, filter)
  local a = o.args
  local lines = {}
  if o.kind == 'InputSelector' then
    if a.fuzzy or filter then
      lines[1] = (a.fuzzy_description or 'Fuzzy matching: ') .. (filter or '')
    else
      lines[1] = a.description or 'Select an item and press Enter = accept,  Esc = cancel,  / = filter'
    end
    for _, c in ipairs(W.__filtered(o, filter)) do
      lines[#lines + 1] = host.visible(c.label)
    end
  else
    lines[1] = a.description or ''
    lines[2] = '> ' .. (filter or '')
  end
  return lines
end

--- The user types `filter` (nil: nothing) into the InputSelector shown in window `w` and
--- presses Enter: the active row (the first of `__filtered`) is chosen. With no row, Enter
--- does nothing and the overlay stays (returns false).
function W.__enter(w, filter)
  local o = W.__overlay(w)
  argcheck(o and o.kind == 'InputSelector', '__enter: window ' .. w.__id .. ' shows no InputSelector')
  local c = W.__filtered(o, filter)[1]
  if not c then
    return false
  end
  return finish_overlay(o, c.id, c.label)
end

--- `wezterm cli kill-pane --pane-id ID`: the pane leaves its tab and the mux; an emptied tab
--- leaves its window (its overlay with it), an emptied window leaves the mux.
function W.__kill_pane(id)
  local p = panes[id]
  argcheck(p and p.__tab, '__kill_pane: no pane ' .. tostring(id))
  panes[id] = nil
  local t = p.__tab
  local i = remove(t.__panes, p)
  if t.__active == p then
    t.__active = t.__panes[math.max(1, (i or 1) - 1)]
  end
  if #t.__panes == 0 then
    local o = close_overlay(t)
    local w = t.__window
    tabs[t.__id] = nil
    local j = remove(w.__tabs, t)
    if w.__active_tab == t then
      w.__active_tab = w.__tabs[math.max(1, (j or 1) - 1)]
    end
    if #w.__tabs == 0 then
      remove(windows, w)
    end
    return o
  end
end

--- The configuration WezTerm hands to `format-tab-title` (the defaults the plugin reads).
function W.__effective_config()
  return {
    use_fancy_tab_bar = true,
    show_tab_index_in_tab_bar = true,
    tab_and_split_indices_are_zero_based = false,
    tab_max_width = 16,
  }
end

--- The tab titles the tab bar of window `w` shows (visible text): the first `format-tab-title`
--- handler's, given (TabInformation, tabs, panes, config, hover, max_width) as WezTerm gives
--- them, else WezTerm's own "N: title" (tabbar.rs compute_tab_title).
function W.__tab_titles(w, config)
  config = config or W.__effective_config()
  local infos = {}
  for i, t in ipairs(w.__tabs) do
    local p = t.__active
    infos[i] = {
      tab_id = t.__id,
      tab_index = i - 1,
      is_active = w.__active_tab == t,
      window_id = w.__id,
      tab_title = t.__title or '',
      active_pane = p and {
        pane_id = p.__id,
        title = p.__title,
        user_vars = p:get_user_vars(),
        is_active = true,
      },
    }
  end
  local out = {}
  local handler = (rec.handlers['format-tab-title'] or {})[1]
  for i, info in ipairs(infos) do
    local got = handler and handler(info, infos, {}, config, false, config.tab_max_width)
    if type(got) == 'table' then
      got = W.format(got)
    end
    if type(got) ~= 'string' then
      local title = info.tab_title ~= '' and info.tab_title or (info.active_pane and info.active_pane.title or '')
      local pad = config.use_fancy_tab_bar and '' or ' '
      if config.show_tab_index_in_tab_bar then
        local n = info.tab_index + (config.tab_and_split_indices_are_zero_based and 0 or 1)
        got = pad .. n .. ': ' .. title .. pad
      else
        got = title
      end
    end
    out[i] = host.visible(got)
  end
  return out
end

--- What `wezterm cli list --format json` prints: one entry per pane of every tab.
function W.__cli_list()
  local out = {}
  for _, w in ipairs(windows) do
    for _, t in ipairs(w.__tabs) do
      for _, p in ipairs(t.__panes) do
        out[#out + 1] = {
          window_id = w.__id,
          tab_id = t.__id,
          pane_id = p.__id,
          workspace = 'default',
          title = p.__title,
          tty_name = p.__tty,
          is_active = t.__active == p,
        }
      end
    end
  end
  return host.json_encode(out)
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
  get_tab = function(id)
    argcheck(math.type(id) == 'integer', 'mux.get_tab: expected a tab id')
    local t = tabs[id]
    if not t then
      error('tab id ' .. id .. ' not found in mux', 2)
    end
    return t
  end,
  all_windows = function()
    local out = {}
    for i, w in ipairs(windows) do
      out[i] = w
    end
    return out
  end,
}

return W
