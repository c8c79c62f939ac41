// A short page that explains why a request was refused and where to go next.
import { AdminLayout, type Chrome, PlainLayout } from "./layout.tsx";

export function MessagePage(
  props: { title: string; message: string; link?: { href: string; label: string } },
) {
  return (
    <PlainLayout title={props.title}>
      <section class="card narrow">
        <h1>{props.title}</h1>
        <p>{props.message}</p>
        {props.link && (
          <p>
            <a class="button" href={props.link.href}>{props.link.label}</a>
          </p>
        )}
      </section>
    </PlainLayout>
  );
}

/** An admin address that leads nowhere (a mistyped or outdated link), inside the usual pages. */
export function NotFoundPage(props: { chrome: Chrome; path: string }) {
  return (
    <AdminLayout title="Not found" chrome={props.chrome}>
      <section class="card narrow">
        <h1>Not found</h1>
        <p>
          There is no admin page at <code class="break">{props.path}</code>.
        </p>
        <p>
          <a class="button" href="/admin">Back to the dashboard</a>
        </p>
      </section>
    </AdminLayout>
  );
}
