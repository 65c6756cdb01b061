// SVG -> PNG through resvg (Node only: a native module from the npm registry,
// loaded on first use so the rest of the library never needs it).

export interface PngOptions {
  /** Output pixels per SVG unit (default 2). */
  scale?: number;
}

export interface RenderedPng {
  png: Uint8Array;
  width: number;
  height: number;
}

export async function svgToPng(svg: string, options: PngOptions = {}): Promise<RenderedPng> {
  const scale = options.scale ?? 2;
  if (!(scale > 0 && scale <= 16)) throw new Error(`svgToPng: scale must be in (0, 16], got ${scale}`);
  let resvg: typeof import('@resvg/resvg-js');
  try {
    resvg = await import('@resvg/resvg-js');
  } catch (error) {
    throw new Error(`PNG output needs the @resvg/resvg-js package and its platform binary (${(error as Error).message}); write .svg instead`);
  }
  const renderer = new resvg.Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    background: '#ffffff',
  });
  const image = renderer.render();
  return { png: new Uint8Array(image.asPng()), width: image.width, height: image.height };
}
