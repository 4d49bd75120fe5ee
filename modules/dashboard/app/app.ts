/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The dashboard's page: log in as one of the manifest's operators, then modules, hooks, logs and traces.
// The page holds no data of its own: everything comes from the gateway's broker over MQTT over WebSocket,
// which authenticates the operator and applies the role's access rules to every message (docs/observability.md).
import { h, replace } from './dom.js'
import { login } from './session.js'
import type { Session } from './session.js'
import { modulesView } from './modules-view.js'
import { hooksView } from './hooks-view.js'
import { logsView } from './logs-view.js'
import { tracesView } from './traces-view.js'

interface PageConfig { broker: { url?: string, port: number, path: string } }

/** the broker's WebSocket listener: as configured, or on this page's host */
function brokerUrl (config: PageConfig): string {
  if (config.broker.url !== undefined) return config.broker.url
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
  return `${scheme}://${location.hostname}:${config.broker.port}${config.broker.path}`
}

const root = document.getElementById('app') as HTMLElement

async function main (): Promise<void> {
  const config = await (await fetch('config.json')).json() as PageConfig
  showLogin(brokerUrl(config), '')
}

function showLogin (url: string, why: string): void {
  const user = h('input', { id: 'user', name: 'user', autocomplete: 'username', required: true })
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true })
  const message = h('p', { class: 'message', role: 'alert' }, why)
  const form = h('form', { id: 'login' }, h('h1', {}, 'Outpost'), h('label', {}, 'user ', user), h('label', {}, 'password ', password),
    h('button', { type: 'submit' }, 'log in'), message, h('p', { class: 'hint' }, `gateway: ${url}`))
  form.addEventListener('submit', event => {
    event.preventDefault()
    message.textContent = 'logging in…'
    login(url, user.value, password.value).then(session => showGateway(url, session), (err: Error) => {
      message.textContent = err.message
    })
  })
  replace(root, form)
  user.focus()
}

async function showGateway (url: string, session: Session): Promise<void> {
  const info = await session.call('core', 'info') as { gateway: string, board: { title: string }, caller: { role?: string } | null, versions: { outpost: string } }
  const admin = info.caller?.role === 'admin'
  const modules = (await session.call('core', 'list') as Array<{ module: string }>).map(m => m.module)
  ;(globalThis as unknown as { dashboard: unknown }).dashboard = { session, role: info.caller?.role } // for the browser's console
  const main = h('main')
  const views = { modules: () => modulesView(session, admin), hooks: () => hooksView(session), logs: () => logsView(session, modules), traces: () => tracesView(session) }
  let current: { stop: () => void } | undefined
  const nav = h('nav', {}, ...Object.keys(views).map(name => {
    const tab = h('button', { type: 'button', id: `tab-${name}`, 'data-view': name }, name)
    tab.addEventListener('click', () => open(name as keyof typeof views))
    return tab
  }))
  const open = (name: keyof typeof views): void => {
    current?.stop()
    const view = views[name]()
    current = view
    for (const tab of nav.querySelectorAll('button')) tab.classList.toggle('active', tab.dataset.view === name)
    replace(main, view.el)
  }
  const logout = h('button', { type: 'button', id: 'logout' }, 'log out')
  logout.addEventListener('click', () => session.close())
  session.onClose(why => {
    current?.stop()
    showLogin(url, why)
  })
  replace(root,
    h('header', {}, h('strong', {}, info.gateway), ` ${info.board.title} · Outpost ${info.versions.outpost} · `,
      h('span', { id: 'whoami', 'data-role': info.caller?.role ?? '' }, `${session.user} (${info.caller?.role ?? '?'})`), ' ', logout),
    nav, main)
  open('modules')
}

main().catch((err: Error) => replace(root, h('p', { class: 'message' }, `cannot start: ${err.message}`)))
