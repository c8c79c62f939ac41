// A short page that explains why a request was refused and where to go next.
import { PlainLayout } from "./layout.tsx";

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
